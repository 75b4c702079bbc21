"""Microcontroller boards by name: the SRAM and flash a model may use on each (datasheet
figures for the chip, flash as the named board ships it), and how a model fits."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .errors import RecipeError, nearest

KIB = 1024
MIB = 1024 * KIB


@dataclass(frozen=True)
class Board:
    name: str
    core: str
    ram_bytes: int  # on-chip SRAM
    flash_bytes: int  # the board's flash (on-chip, or the module's external flash)
    what: str  # the chip or board it stands for

    def limits(self, reserve_bytes: int) -> tuple[int, int]:
        """(RAM, flash) left for the model's arena and file when the application keeps
        `reserve_bytes` of each."""
        return self.ram_bytes - reserve_bytes, self.flash_bytes - reserve_bytes


BOARDS = {board.name: board for board in (
    Board("nrf52840", "Cortex-M4F", 256 * KIB, 1 * MIB, "Nordic nRF52840 (Arduino Nano 33 BLE)"),
    Board("apollo3", "Cortex-M4F", 384 * KIB, 1 * MIB, "Ambiq Apollo3 Blue (SparkFun Edge)"),
    Board("stm32f746", "Cortex-M7", 320 * KIB, 1 * MIB, "ST STM32F746NG (32F746G-DISCO)"),
    Board("stm32h743", "Cortex-M7", 1 * MIB, 2 * MIB, "ST STM32H743ZI (NUCLEO-H743ZI)"),
    Board("rp2040", "Cortex-M0+", 264 * KIB, 2 * MIB, "Raspberry Pi RP2040 (Pico)"),
    Board("esp32-s3", "Xtensa LX7", 512 * KIB, 8 * MIB, "Espressif ESP32-S3 (DevKitC-1 N8)"),
)}


def board_named(name: str, where: str) -> Board:
    """The board `name` names; a one-line RecipeError (with the closest name) otherwise."""
    if name in BOARDS:
        return BOARDS[name]
    guess = nearest(name, BOARDS)
    raise RecipeError(f"unknown board {name!r}", where,
                      (f"did you mean '{guess}'? " if guess else "")
                      + f"use one of {', '.join(BOARDS)}, or set max_arena_bytes and "
                        "max_flash_bytes yourself")


def check_reserve(board: Board, reserve_bytes: int, where: str) -> None:
    """A reserve the board can hold: not negative, and less than its RAM."""
    if not 0 <= reserve_bytes < board.ram_bytes:
        raise RecipeError(f"reserve_bytes must be in [0, {board.ram_bytes:,}) for "
                          f"{board.name}, got {reserve_bytes:,}", where,
                          "give the bytes of RAM and flash the application keeps for itself")


def fit(board: Board, reserve_bytes: int, arena_bytes: int | None, predicted_arena_bytes: int,
        flash_bytes: int) -> dict[str, Any]:
    """How a model fits `board`: its arena (TFLM's, or, where TFLM did not run, the arena
    predicted from the file) and file against what is left after `reserve_bytes`, with the
    margins (negative: it does not fit)."""
    ram, flash = board.limits(reserve_bytes)
    arena = arena_bytes if arena_bytes is not None else predicted_arena_bytes
    return {"board": board.name, "core": board.core, "what": board.what,
            "ram_bytes": board.ram_bytes, "flash_bytes": board.flash_bytes,
            "reserve_bytes": reserve_bytes, "arena_bytes": arena,
            "arena_measured": arena_bytes is not None, "ram_margin": ram - arena,
            "model_flash_bytes": flash_bytes, "flash_margin": flash - flash_bytes}
