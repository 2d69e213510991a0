"""The elder hotline: a phone and SMS hotline backend for older people without smartphones."""


def create_app(test_config=None):
    """Create the Flask application: the app factory plus the other wiring modules.

    The wiring modules (`app`, `cli`, `clock`, `seed`, `models`) are independent siblings that
    never import each other; this function is where they meet: the model registry (so
    `Base.metadata` knows every table), the app with its blueprints and event subscriptions,
    the developer pages, then the command groups, the demo seed command and the clock command.
    """
    import hotline.models  # noqa: F401  (registers every table on Base.metadata)
    from hotline import cli, clock, seed
    from hotline.app import build_app
    from hotline.devtools import views as devtools_views

    app = build_app(test_config)
    # The developer pages sit beside the app in the wiring layer (the app never imports them).
    app.register_blueprint(devtools_views.bp)
    cli.register(app)
    app.cli.add_command(seed.seed_demo)
    app.cli.add_command(clock.clock_command)
    return app
