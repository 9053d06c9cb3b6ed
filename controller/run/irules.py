"""Read the project's iRule templates and render them with the settings.

The templates live in the top-level `irules/` folder; the package ships them as
`controller/irules/*.tcl` (a symlink in the source tree, real files once installed).
`settings.irules_dir` replaces them with an operator's own copies, which must keep the same
placeholders (core/irules.py renders them).
"""

from __future__ import annotations

from pathlib import Path

from controller.core.irules import IRULE_NAMES, placeholder_values, render
from controller.errors import ConfigError
from controller.settings import Settings


def load_irules(settings: Settings) -> dict[str, str]:
    """{"http_router": text, "dns_resolver": text}, placeholders filled in from settings.

    Each text is stripped and ends in one newline (the form iControl REST hands back, so an
    unchanged iRule compares equal and costs no write). ConfigError names the file on a
    missing or unreadable file and on a placeholder this version does not know.
    """
    folder = Path(settings.irules_dir) if settings.irules_dir else packaged_dir()
    values = placeholder_values(settings)
    texts = {}
    for name in IRULE_NAMES:
        path = folder / f"{name}.tcl"
        try:
            template = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            where = "irules-dir" if settings.irules_dir else "packaged iRules"
            raise ConfigError(f"{where}: cannot read iRule {path}: {exc}") from None
        texts[name] = render(template, values, str(path))
    return texts


def packaged_dir() -> Path:
    """The iRules shipped with the package; in a source checkout, the top-level folder."""
    package = Path(__file__).resolve().parents[1]
    for candidate in (package / "irules", package.parent / "irules"):
        if (candidate / f"{IRULE_NAMES[0]}.tcl").is_file():
            return candidate
    return package / "irules"  # load_irules then names the missing file
