"""The Streamlit admin console (``loadcheck console``); see docs/console.md."""
