"""``derive arch --module`` / ``--torchvision``: output, JSON, and clear errors (exit 2)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")

from derive.cli import main  # noqa: E402

pytestmark = pytest.mark.torch

NET = '''
import torch.nn as nn

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, stride=2, padding=1)
        self.pool = nn.MaxPool2d(2)

    def forward(self, x):
        return self.pool(self.conv(x).relu())

class NeedsArgs(nn.Module):
    def __init__(self, width):
        super().__init__()
'''


@pytest.fixture()
def net_file(tmp_path: Path) -> Path:
    path = tmp_path / "net.py"
    path.write_text(NET)
    return path


def test_table_states_the_closed_forms_and_convention(net_file: Path, capsys) -> None:
    assert main(["arch", "--module", f"{net_file}:Net"]) == 0
    out = capsys.readouterr().out
    assert "floor((H + 1)/4)" in out and "multiply-adds" in out
    assert "H ≡ 0 (mod 4)" in out and "shapes tested on" in out


def test_json_output(net_file: Path, capsys) -> None:
    assert main(["arch", "--module", f"{net_file}:Net", "--json", "--convention", "flop2",
                 "--input", "3,32,W"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["convention"]["name"] == "flop2"
    assert data["params"] == 3 * 8 * 9 + 8
    conv = data["rows"][0]
    assert conv["shape"] == ["1", "8", "16", "floor((W + 1)/2)"]
    assert conv["receptive_field"] == [{"size": 3, "jump": 2, "start": 1}] * 2
    assert data["checks"]["shape_failures"] == []


def test_markdown_and_latex(net_file: Path, capsys) -> None:
    assert main(["arch", "--module", f"{net_file}:Net", "--format", "markdown",
                 "--no-check"]) == 0
    assert "| layer |" in capsys.readouterr().out
    assert main(["arch", "--module", f"{net_file}:Net", "--format", "latex", "--no-check"]) == 0
    assert r"\lfloor" in capsys.readouterr().out


@pytest.mark.parametrize("spec, message", [
    ("{dir}/missing.py:Net", "no file"),
    ("{file}:Nope", "defines no 'Nope'"),
    ("{file}", "FILE.py:ClassName"),
    ("{file}:NeedsArgs", "must build without arguments"),
])
def test_bad_module_exits_2_without_traceback(net_file: Path, spec: str, message: str) -> None:
    spec = spec.format(dir=net_file.parent, file=net_file)
    run = subprocess.run([sys.executable, "-m", "derive", "arch", "--module", spec],
                         capture_output=True, text=True)
    assert run.returncode == 2
    assert message in run.stderr and "Traceback" not in run.stderr


def test_bad_input_exits_2(net_file: Path) -> None:
    run = subprocess.run([sys.executable, "-m", "derive", "arch", "--module",
                          f"{net_file}:Net", "--input", "3,H"], capture_output=True, text=True)
    assert run.returncode == 2 and "Traceback" not in run.stderr and "entries" in run.stderr


def test_unknown_torchvision_name_exits_2(capsys) -> None:
    assert main(["arch", "--torchvision", "not_a_net"]) == 2
    err = capsys.readouterr().err
    assert "not_a_net" in err and ("not a torchvision model" in err or "derive[vision]" in err)


def test_catalog_behaviour_is_kept(capsys) -> None:
    assert main(["arch", "--list"]) == 0
    assert "resnet50" in capsys.readouterr().out


def test_missing_torch_names_the_option_and_the_extra(net_file: Path, monkeypatch,
                                                      capsys) -> None:
    monkeypatch.setitem(sys.modules, "torch", None)    # import torch now raises ImportError
    assert main(["arch", "--module", f"{net_file}:Net"]) == 2
    err = capsys.readouterr().err
    assert "--module needs PyTorch" in err and "derive[torch]" in err
