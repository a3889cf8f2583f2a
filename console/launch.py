"""The console process: start its metrics server, then run Streamlit in this process.

``loadcheck console`` executes ``python -m loadcheck.console.launch run app.py ...`` (Streamlit's
own command line after the module name). The metrics server
(:func:`loadcheck.console.metrics.start_server`, on ``$LOADCHECK_CONSOLE_METRICS_PORT``) starts
here, before any browser session runs the app's script, so Prometheus can scrape the console
(and its drift gauges) while nobody has it open; the app's own call is then a no-op.
"""

from __future__ import annotations

import logging
import sys

LOG = logging.getLogger(__name__)


def main() -> int:
    from streamlit.web import cli as streamlit_cli

    from loadcheck.console import metrics
    from loadcheck.environment import HOME, LOG_FORMAT, REPOSITORY
    from loadcheck.logs import configure_logging

    try:
        configure_logging(log_format=LOG_FORMAT.get_text())
    except ValueError:  # a bad $LOADCHECK_LOG_FORMAT: the default format
        configure_logging()
    port = metrics.start_server(HOME.get(), REPOSITORY.get())
    if port is not None:
        LOG.info("console metrics: http://%s:%d/metrics", metrics.listen_address(), port)
    sys.argv = ["streamlit", *sys.argv[1:]]
    return int(streamlit_cli.main() or 0)


if __name__ == "__main__":
    sys.exit(main())
