"""The legacy-compatible HTTP gateway: ``POST /quality_detector/handle_image_post/<token>/``.

Modules:
    app     the Starlette application (:func:`~loadcheck.gateway.app.create_app`)
    tokens        URL tokens bound to an integrator (and optional camera), stored as SHA-256
                  hashes in the workspace database, shown once
    token_source  the published, read-only document of those hashes for stateless gateways
    cli           ``loadcheck gateway`` and its ``tokens`` / ``rotate`` / ``revoke`` /
                  ``publish`` sub-commands
"""
