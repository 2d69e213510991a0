"""The elder hotline: a phone and SMS hotline backend for older people without smartphones."""


def create_app(test_config=None):
    """Create the Flask application (see hotline.app for the real factory)."""
    from hotline.app import build_app

    return build_app(test_config)
