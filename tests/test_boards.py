"""Boards by name: [budgets] board fills the arena and flash budgets from the board's RAM and
flash less the application's reserve; `prune2edge inspect --board` shows the margins."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from prune2edge.boards import BOARDS
from prune2edge.cli.app import app
from prune2edge.errors import RecipeError
from prune2edge.report.budgets import Budgets


def test_a_board_sets_the_arena_and_flash_budgets_less_the_reserve():
    budgets = Budgets.parse({"board": "nrf52840", "reserve_bytes": 65536})
    assert (budgets.max_arena_bytes, budgets.max_flash_bytes) == (262144 - 65536,
                                                                  1048576 - 65536)
    assert budgets.table() == {"max_arena_bytes": 196608, "max_flash_bytes": 983040,
                               "board": "nrf52840", "reserve_bytes": 65536,
                               "accuracy_gate": "point", "latency_cpus": []}
    given = Budgets.parse({"board": "esp32-s3", "max_arena_bytes": 65536})
    assert (given.max_arena_bytes, given.max_flash_bytes) == (65536, 8 * 1024 * 1024)
    assert [where for _, where in given.requirements()] == ["budgets.board"]


@pytest.mark.parametrize(("table", "message"), [
    ({"board": "nrf5284"}, "unknown board 'nrf5284' (budgets: board): did you mean "
                           "'nrf52840'?"),
    ({"reserve_bytes": 1024}, "reserve_bytes is what the application keeps of a board"),
    ({"board": "rp2040", "reserve_bytes": 270336}, "reserve_bytes must be in [0, 270,336) "
                                                   "for rp2040, got 270,336"),
])
def test_a_wrong_board_or_reserve_is_one_line(table, message):
    with pytest.raises(RecipeError) as info:
        Budgets.parse(table)
    assert str(info.value).startswith(message)


def test_every_board_has_ram_below_its_flash():
    assert all(0 < board.ram_bytes < board.flash_bytes for board in BOARDS.values())


def test_inspect_shows_the_margins_on_a_board(tiny_files):
    path = str(tiny_files.files["int8_dense_int8_io"])
    result = CliRunner().invoke(app, ["inspect", path, "--json", "--board", "rp2040",
                                      "--reserve", "4096"])
    assert result.exit_code == 0, result.output
    fit = json.loads(result.stdout)["micro"]["board"]
    size = len(tiny_files.files["int8_dense_int8_io"].read_bytes())
    assert fit["model_flash_bytes"] == size
    assert fit["flash_margin"] == 2 * 1024 * 1024 - 4096 - size
    assert fit["ram_margin"] == 264 * 1024 - 4096 - fit["arena_bytes"] and fit["arena_bytes"] > 0
    shown = CliRunner().invoke(app, ["inspect", path, "--board", "rp2040"])
    assert "on rp2040 (Raspberry Pi RP2040 (Pico), Cortex-M0+" in " ".join(shown.stdout.split())
    wrong = CliRunner().invoke(app, ["inspect", path, "--board", "pico"])
    assert wrong.exit_code == 1 and wrong.stderr.startswith("error: unknown board 'pico'")
    alone = CliRunner().invoke(app, ["inspect", path, "--reserve", "4096"])
    assert alone.exit_code == 1 and alone.stderr.startswith(
        "error: --reserve is what the application keeps of a board")
    predicted = json.loads(CliRunner().invoke(app, ["inspect", path, "--json"]).stdout)
    arena = predicted["micro"]["predicted_arena"]  # from the file, where TFLM does not run too
    assert arena["total"] > arena["head"] > 0 and arena["unmodelled"] == []
    if "arena" in predicted["micro"]:
        assert arena["total"] == predicted["micro"]["arena"]["total"]
