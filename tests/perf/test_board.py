"""The PYNQ-Z1 board file: its figures, the power model against a real report, and errors."""

import re

import pytest
from repo_paths import BOARD_FILE, VENDOR

from grace_flow.synth import parse_report
from grace_flow.perf.board import BoardError, load_board


def test_figures(board):
    assert board.part == "xc7z020clg400-1"
    assert board.board_part == "digilentinc.com:pynq-z1:part0:1.0"
    assert board.resources.model_dump() == {"LUT": 53200, "FF": 106400, "BRAM18": 280, "DSP": 220}
    assert board.ddr_peak_bytes_per_s == 2.1e9  # 16 bit x 1050 MT/s
    assert board.hp_peak_bytes_per_s(100.0) == 800e6  # 64 bit x 100 MHz
    assert (board.memory.hp_ports.count, board.memory.control_port) == (4, "M_AXI_GP0")
    assert [board.clock_ns(mhz) for mhz in board.clocks.choices_mhz] == [20.0, 10.0, 8.0, 7.0]
    assert board.clock_ns() == 10.0
    assert board.pl_clock_mhz(142.86) == 142.857 and board.clock_ns(142.86) == 7.0


def test_every_coefficient_names_its_source(board):
    for name, coefficient in board.power:
        assert len(coefficient.source) > 40, name


def test_power_model_reproduces_the_pynq_add_report(board):
    """The model's coefficients come from this report: estimate it back from its utilization."""
    used = parse_report(VENDOR / "vivado" / "pynq_add_utilization_placed.rpt")["resources"]
    measured = parse_report(VENDOR / "vivado" / "pynq_add_power_routed.rpt")["power_w"]
    estimate = board.power.watts(used, clock_mhz=50.0)  # clk_fpga_0 is 20.0 ns in that design
    assert estimate["total"] == pytest.approx(measured["total"], abs=0.01)
    assert estimate["ps"] + estimate["pl_static"] == pytest.approx(
        measured["static"] + 1.525, abs=0.002)


@pytest.mark.parametrize("old, new, message", [
    ("  DSP: 220\n", "", r"pynq-z1\.yaml:9: resources\.DSP: missing required key"),
    ("  DSP: 220", "  DSP: lots", r"pynq-z1\.yaml:13: resources\.DSP: input should be a valid "
     r"integer, got 'lots'"),
    ("  DSP: 220", "  DSP: 0", r"pynq-z1\.yaml:13: resources\.DSP: input should be greater than 0, "
     r"got 0"),
    ("  default_mhz: 100.0", "  default_mhz: 90.0", r"pynq-z1\.yaml:18: clocks\.default_mhz: "
     r"must be one of choices_mhz \(50, 100, 125, 142\.857\), got 90\.0"),
    ("    width_bits: 64", "    width_bits: 128", r"pynq-z1\.yaml:28: "
     r"memory\.hp_ports\.width_bits: input should be 32 or 64, got 128"),
    ("    value: 9.0e-6\n", "", r"pynq-z1\.yaml:50: power\.dsp_w_per_mhz\.value: missing required "
     r"key"),
    ("  LUT: 53200", "  LUT: 53200\n  URAM: 0", r"pynq-z1\.yaml:11: resources\.URAM: unknown key"),
    ("part: xc7z020clg400-1", "part: [xc7z020]", r"pynq-z1\.yaml:5: part: input should be a valid "
     r"string, got a list"),
    ("name: pynq_z1", "name: pynq_z1\nname: again", r"pynq-z1\.yaml:5: name: duplicate "
     r"key \(remove one of them\)"),
])
def test_bad_board_file_is_one_line(tmp_path, old, new, message):
    text = BOARD_FILE.read_text()
    assert old in text
    bad = tmp_path / "pynq-z1.yaml"
    bad.write_text(text.replace(old, new, 1))
    with pytest.raises(BoardError, match=f"^{message}$") as caught:
        load_board(bad)
    assert "\n" not in str(caught.value)


def test_missing_and_empty_board_files(tmp_path):
    with pytest.raises(BoardError, match=r"^.*nope\.yaml: board file not found; boards live in "
                       r"constraints/boards/$"):
        load_board(tmp_path / "nope.yaml")
    (tmp_path / "empty.yaml").write_text("\n")
    with pytest.raises(BoardError, match=r"^empty\.yaml:1: the board file is empty$"):
        load_board(tmp_path / "empty.yaml")


def test_clock_the_ps_cannot_make(board):
    with pytest.raises(BoardError, match=re.escape(
            "board pynq_z1: clock 90 MHz is not one the PS can generate; choose one of 50, 100, "
            "125, 142.857")):
        board.clock_ns(90.0)
