"""``neural-datasets score MODULE:CALLABLE --on TARGET``: score a model from the command line.

Light at import (the CLI imports it for its arguments): the model's module, its framework
and the scoring code are imported when the command runs.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
from typing import Any

from .it import PAPER_WINDOWS

CLICKME_PREFIX = "clickme-"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``score`` subcommand's arguments."""
    parser.add_argument(
        "target",
        metavar="MODULE:CALLABLE",
        help="an importable callable returning a torch.nn.Module or Keras model (or the model "
        "itself), e.g. torchvision.models:resnet18 or my_models.py's build as my_models:build",
    )
    parser.add_argument(
        "--on",
        required=True,
        metavar="TARGET",
        help=f"clickme-val (or another ClickMe split) or an IT population: "
        f"{', '.join(PAPER_WINDOWS)}",
    )
    parser.add_argument("--layers", nargs="+", metavar="LAYER", help="IT: layers to score")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.add_argument(
        "--dataset",
        default="arcaro2020",
        help="IT: the recordings (default arcaro2020; arcaro2020-sample is offline, synthetic)",
    )
    parser.add_argument(
        "--window",
        nargs=2,
        type=int,
        metavar=("A", "B"),
        help="IT: time window in ms [A, B) (default: the published window of the population)",
    )
    parser.add_argument(
        "--selection",
        choices=("held_out", "same_images"),
        default="held_out",
        help="IT: pick the best layer on held-out images (default) or on the scored ones "
        "(upstream)",
    )
    parser.add_argument(
        "--legacy", action="store_true", help="IT: reproduce upstream's numbers (docs/scoring.md)"
    )
    parser.add_argument("--image-size", type=int, default=224, help="IT: stimulus side (224)")
    parser.add_argument("--n-components", type=int, default=25, help="IT: PLS components (25)")
    parser.add_argument("--no-progress", action="store_true", help="hide progress bars")
    parser.add_argument(
        "--cache-dir",
        help="cache root (default: $NEURAL_DATASETS_HOME or the platform cache directory)",
    )


def run(args: argparse.Namespace) -> int:
    """Build the model, score it, print the table or JSON; 2 for a usage error."""
    on = args.on
    if not on.startswith(CLICKME_PREFIX) and on not in PAPER_WINDOWS:
        return _usage(
            f"--on {on}: give a ClickMe split (clickme-val, clickme-sample) or an IT population "
            f"({', '.join(PAPER_WINDOWS)})"
        )
    try:
        model = load_model(args.target)
    except (ImportError, AttributeError, ValueError) as exc:
        return _usage(str(exc))
    try:
        if on.startswith(CLICKME_PREFIX):
            try:
                from . import evaluate_clickme
            except ImportError:  # only if this install predates ClickMe scoring
                return _usage(f"--on {on}: ClickMe scoring is not available in this install")
            result: Any = evaluate_clickme(model, dataset=on)
            payload = result.as_dict()
        else:
            from .it_model import score_model

            result = score_model(
                model,
                on,
                layers=args.layers,
                window=tuple(args.window) if args.window else None,
                dataset=args.dataset,
                selection=args.selection,
                legacy=args.legacy,
                image_size=args.image_size,
                n_components=args.n_components,
                cache_dir=args.cache_dir,
                progress=not args.no_progress,
            )
            payload = result.to_dict()
    except (TypeError, ValueError) as exc:  # bad layer, population, window or model
        return _usage(str(exc))
    print(json.dumps(payload, indent=1, default=str) if args.json else result)
    return 0


def load_model(target: str) -> Any:
    """The model named by ``MODULE:CALLABLE``: the attribute itself if it is a model, else
    what calling it with no arguments returns. The current directory is importable, as
    with ``python -m``.

    Raises
    ------
    ValueError
        ``target`` has no ``:``, or the result is not a torch or Keras model.
    ImportError, AttributeError
        The module or the callable cannot be found (the message names it).
    """
    from .frameworks import framework_of

    module_name, sep, attribute = target.partition(":")
    if not sep or not module_name or not attribute:
        raise ValueError(f"{target}: give MODULE:CALLABLE, e.g. torchvision.models:resnet18")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ImportError(f"{target}: cannot import {module_name!r} ({exc})") from exc
    obj: Any = module
    for part in attribute.split("."):
        if not hasattr(obj, part):
            raise AttributeError(f"{target}: {module_name!r} has no attribute {attribute!r}")
        obj = getattr(obj, part)
    try:
        framework_of(obj)
        return obj
    except TypeError:
        pass
    if not callable(obj):
        raise ValueError(f"{target}: {attribute} is neither a model nor callable")
    model = obj()
    try:
        framework_of(model)
    except TypeError as exc:
        raise ValueError(f"{target}() returned {type(model).__name__}: {exc}") from None
    return model


def _usage(message: str) -> int:
    print(f"neural-datasets score: error: {message}", file=sys.stderr)
    return 2
