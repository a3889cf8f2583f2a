"""The legacy-compatible HTTP gateway: ``POST /quality_detector/handle_image_post/<token>/``.

Modules:
    app     the Starlette application (:func:`~loadcheck.gateway.app.create_app`)
    tokens  per-integrator URL tokens in the workspace database
    cli     ``loadcheck gateway`` and its ``tokens`` / ``rotate`` / ``revoke`` sub-commands
"""
