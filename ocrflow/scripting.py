"""What every Snakemake script entry point shares: logging to the rule's log, one-line errors."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from typing import Any

from ocrflow.engines.base import EngineUnavailable


def run(log_path: str | None, func: Callable[..., Any], **kwargs: Any) -> None:
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_path:
        handlers.append(logging.FileHandler(log_path, mode="w", encoding="utf-8"))
    logging.basicConfig(level=logging.INFO, handlers=handlers, force=True,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        func(**kwargs)
    except EngineUnavailable as exc:
        logging.getLogger("ocrflow").error("%s", exc)
        sys.exit(1)
    except Exception:
        logging.getLogger("ocrflow").exception("job failed")
        raise
