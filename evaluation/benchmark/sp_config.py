"""Which sketch-embedding architecture a benchmark configuration names: a
preset of configs/sp_embedding/, or ``bundled`` (the bundled model's
config.json), and its options."""


BUNDLED = "bundled"          # --sp_configs bundled: the bundled model's architecture


def sp_preset(config):
    """What --preset gets for ``config``: a preset name (configs/sp_embedding/)
    or, for ``bundled``, the bundled model's config.json."""
    if config != BUNDLED:
        return config
    import os
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    return os.path.join(root, "params", "sp_embedding", "config.json")


def sp_options(config):
    """The options of ``config`` (a preset, or ``bundled``: the bundled
    model's architecture, with the benchmark's weights)."""
    from options.base_options import BaseOptions
    return BaseOptions().parse(["--method", "sp_embedding", "--preset", sp_preset(config)])
