"""What the packaging tests share: running a command that must succeed, and a bare virtual environment
that borrows this environment's installed dependencies (no network, no pip download)."""

from __future__ import annotations

import subprocess
import sys
import sysconfig
from pathlib import Path


def check(result: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert result.returncode == 0, f"{result.args} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
    return result


def fresh_venv(base: Path, also: tuple[str, ...] = ()) -> tuple[Path, Path]:
    """A venv under `base` without pip: `(python, site_packages)`. It sees this environment's installed
    packages through a .pth file (not this environment's own .pth files, so not an editable install of
    the checkout), and the folders `also` names."""
    venv = base / "venv"
    check(subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], capture_output=True, text=True))
    python = venv / "bin" / "python"
    site_packages = Path(
        check(
            subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                           capture_output=True, text=True)
        ).stdout.strip()
    )
    lines = list(dict.fromkeys([sysconfig.get_path("purelib"), sysconfig.get_path("platlib"), *also]))
    (site_packages / "zz_prasan_test_dependencies.pth").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return python, site_packages
