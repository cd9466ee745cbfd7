"""paramiko is imported without `invoke` unless the SSH config may use `Match exec`; either way
paramiko works and `invoke` stays importable. Fresh interpreters: the import happens once."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PROBE = (
    "import sys\n"
    "from pathlib import Path\n"
    "from migrator.executors.paramiko_lean import import_paramiko\n"
    "config = Path(sys.argv[1])\n"
    "import_paramiko(config)\n"
    "held_back = 'invoke' not in sys.modules\n"
    "import paramiko\n"
    "options = paramiko.SSHConfig.from_path(str(config)).lookup('off1')\n"
    "import invoke  # still importable afterwards\n"
    "print(held_back, options['hostname'], options.get('user', '-'))\n"
)


def probe(config: Path) -> str:
    result = subprocess.run(
        [sys.executable, "-c", PROBE, str(config)], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_invoke_is_held_back_when_no_config_needs_it(tmp_path: Path) -> None:
    config = tmp_path / "config"
    config.write_text("Host off1\n  HostName 127.0.0.2\n  User deploy\n")
    assert probe(config) == "True 127.0.0.2 deploy"


def test_a_config_with_match_exec_gets_invoke_and_it_works(tmp_path: Path) -> None:
    config = tmp_path / "config"
    config.write_text('Match exec "true"\n  User matched\nHost off1\n  HostName 127.0.0.2\n')
    assert probe(config) == "False 127.0.0.2 matched"


def test_no_config_file_at_all(tmp_path: Path) -> None:
    missing = tmp_path / "missing"
    result = subprocess.run(
        [sys.executable, "-c",
         "import sys\nfrom pathlib import Path\n"
         "from migrator.executors.paramiko_lean import import_paramiko\n"
         "import_paramiko(Path(sys.argv[1]))\n"
         "print('paramiko' in sys.modules, 'invoke' in sys.modules)\n", str(missing)],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.stdout.strip() == "True False", result.stderr
