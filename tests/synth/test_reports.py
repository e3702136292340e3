"""Vendor report parsers against real Vivado HLS / Vitis HLS / Vivado reports.

Every figure below was read by hand from the fixture files in tests/fixtures/vendor/.
"""

import re
import shutil
from pathlib import Path

import pytest

from repo_paths import VENDOR

from grace_flow.synth import ReportError, format_resources, parse_report

Z7020 = {"LUT": 53200, "FF": 106400, "BRAM18": 280, "DSP": 220}
Z7020_URAM = {**Z7020, "URAM": 0}

EXPECTED = {
    "csynth/autoencoder.csynth.xml": {
        "kind": "hls_csynth_xml", "tool": "vitis_hls", "tool_version": "2022.1",
        "part": "xc7z020clg400-1", "top": "Autoencoder",
        "resources": {"LUT": 8796, "FF": 2696, "BRAM18": 0, "DSP": 0, "URAM": 0,
                      "available": Z7020_URAM},
        "clock_ns": {"target": 10.0, "estimated": 7.3, "uncertainty": 2.7},
        "latency_cycles": {"min": 945200664, "max": 945200664},
        "interval_cycles": {"min": 945200665, "max": 945200665},
    },
    "csynth/autoencoder_csynth.rpt": {
        "kind": "hls_csynth_rpt", "tool": "vitis_hls", "tool_version": "2022.1",
        "part": "xc7z020clg400-1", "top": "Autoencoder",
        "resources": {"LUT": 8796, "FF": 2696, "BRAM18": 0, "DSP": 0, "URAM": 0},
        "latency_cycles": {"min": 945200664, "max": 945200664},
        "interval_cycles": {"min": 945200665, "max": 945200665},
    },
    "csynth/image_fusion_blendtop.csynth.xml": {
        "kind": "hls_csynth_xml", "tool": "vivado_hls", "tool_version": "2019.1",
        "part": "xc7z020clg484-1", "top": "blendTop",
        "resources": {"LUT": 29918, "FF": 20858, "BRAM18": 20, "DSP": 146, "URAM": 0,
                      "available": Z7020_URAM},
        "clock_ns": {"target": 10.0, "estimated": 10.4, "uncertainty": 1.25},
        "latency_cycles": {"min": 309603, "max": 1290126},
        "interval_cycles": {"min": 309604, "max": 1290122},
    },
    "csynth/image_fusion_blendtop_csynth.rpt": {
        "kind": "hls_csynth_rpt", "tool": "vivado_hls", "tool_version": "2019.1",
        "part": "xc7z020clg484-1", "top": "blendTop",
        "resources": {"LUT": 29918, "FF": 20858, "BRAM18": 20, "DSP": 146, "URAM": 0,
                      "available": Z7020_URAM},
        "clock_ns": {"target": 10.0, "estimated": 10.4, "uncertainty": 1.25},
        "latency_cycles": {"min": 309603, "max": 1290126},
        "interval_cycles": {"min": 309604, "max": 1290122},
    },
    "csynth/lenet5_z7100.csynth.xml": {
        "kind": "hls_csynth_xml", "tool": "vitis_hls", "tool_version": "2020.2",
        "part": "xc7z100ffg900-2", "top": "lenet5",
        "resources": {"LUT": 17116, "FF": 15364, "BRAM18": 120, "DSP": 5, "URAM": 0,
                      "available": {"LUT": 277400, "FF": 554800,
                                    "BRAM18": 1510, "DSP": 2020, "URAM": 0}},
        "clock_ns": {"target": 10.0, "estimated": 9.901, "uncertainty": 2.7},
        "latency_cycles": {"min": 1440328, "max": 1440328},
        "interval_cycles": {"min": 1440329, "max": 1440329},
    },
    "csynth/lenet5_z7100_csynth.rpt": {
        "kind": "hls_csynth_rpt", "tool": "vitis_hls", "tool_version": "2020.2",
        "part": "xc7z100ffg900-2", "top": "lenet5",
        "resources": {"LUT": 17116, "FF": 15364, "BRAM18": 120, "DSP": 5, "URAM": 0},
        "latency_cycles": {"min": 1440328, "max": 1440328},
        "interval_cycles": {"min": 1440329, "max": 1440329},
    },
    "csynth/pynqz1_hw_conv.csynth.xml": {
        "kind": "hls_csynth_xml", "tool": "vivado_hls", "tool_version": "2018.3",
        "part": "xc7z020clg400-1", "top": "hw_conv",
        "resources": {"LUT": 15736, "FF": 8867, "BRAM18": 2, "DSP": 0, "available": Z7020},
        "clock_ns": {"target": 10.0, "estimated": 7.524, "uncertainty": 1.25},
        "latency_cycles": {"min": 134480385, "max": 134480385},
        "interval_cycles": {"min": 134480386, "max": 134480386},
    },
    "csynth/pynqz1_hw_conv_csynth.rpt": {
        "kind": "hls_csynth_rpt", "tool": "vivado_hls", "tool_version": "2018.3",
        "part": "xc7z020clg400-1", "top": "hw_conv",
        "resources": {"LUT": 15736, "FF": 8867, "BRAM18": 2, "DSP": 0, "available": Z7020},
        "clock_ns": {"target": 10.0, "estimated": 7.524, "uncertainty": 1.25},
        "latency_cycles": {"min": 134480385, "max": 134480385},
        "interval_cycles": {"min": 134480385, "max": 134480385},
    },
    "csynth/pynqz2_axil_conv2d.csynth.xml": {
        "kind": "hls_csynth_xml", "tool": "vitis_hls", "tool_version": "2024.1",
        "part": "xc7z020clg400-1", "top": "axil_conv2D",
        "resources": {"LUT": 1188, "FF": 872, "BRAM18": 8, "DSP": 7, "URAM": 0,
                      "available": Z7020_URAM},
        "clock_ns": {"target": 10.0, "estimated": 7.221, "uncertainty": 2.7},
        "latency_cycles": {"min": 66581, "max": 66581},
        "interval_cycles": {"min": 66582, "max": 66582},
    },
    "csynth/pynqz2_axil_conv2d_csynth.rpt": {
        "kind": "hls_csynth_rpt", "tool": "vitis_hls", "tool_version": "2024.1",
        "part": "xc7z020clg400-1", "top": "axil_conv2D",
        "resources": {"LUT": 1188, "FF": 872, "BRAM18": 8, "DSP": 7, "URAM": 0},
        "latency_cycles": {"min": 66581, "max": 66581},
        "interval_cycles": {"min": 66582, "max": 66582},
    },
    "csynth/rgb2gray_image_filter.csynth.xml": {
        "kind": "hls_csynth_xml", "tool": "vivado_hls", "tool_version": "2018.2",
        "part": "xc7z020clg400-1", "top": "image_filter",
        "resources": {"LUT": 2224, "FF": 1215, "BRAM18": 0, "DSP": 3, "available": Z7020},
        "clock_ns": {"target": 10.0, "estimated": 9.4, "uncertainty": 1.25},
        "latency_cycles": {"min": 10, "max": 4014004},
        "interval_cycles": {"min": 4, "max": 4014004},
    },
    "csynth/rgb2gray_image_filter_csynth.rpt": {
        "kind": "hls_csynth_rpt", "tool": "vivado_hls", "tool_version": "2018.2",
        "part": "xc7z020clg400-1", "top": "image_filter",
        "resources": {"LUT": 2224, "FF": 1215, "BRAM18": 0, "DSP": 3, "available": Z7020},
        "clock_ns": {"target": 10.0, "estimated": 9.4, "uncertainty": 1.25},
        "latency_cycles": {"min": 10, "max": 4014004},
        "interval_cycles": {"min": 4, "max": 4014004},
    },
    "csynth/sr_fft.csynth.xml": {
        "kind": "hls_csynth_xml", "tool": "vitis_hls", "tool_version": "2022.2",
        "part": "xc7z020clg400-1", "top": "sr_fft",
        "resources": {"LUT": 35699, "FF": 41251, "BRAM18": 20, "DSP": 128, "URAM": 0,
                      "available": Z7020_URAM},
        "clock_ns": {"target": 10.0, "estimated": 7.196, "uncertainty": 2.7},
        "latency_cycles": {"min": 627, "max": 627}, "interval_cycles": {"min": 628, "max": 628},
    },
    "csynth/sr_fft_csynth.rpt": {
        "kind": "hls_csynth_rpt", "tool": "vitis_hls", "tool_version": "2022.2",
        "part": "xc7z020clg400-1", "top": "sr_fft",
        "resources": {"LUT": 35699, "FF": 41251, "BRAM18": 20, "DSP": 128, "URAM": 0},
        "latency_cycles": {"min": 627, "max": 627}, "interval_cycles": {"min": 628, "max": 628},
    },
    "vivado/pynq_add_power_routed.rpt": {
        "kind": "vivado_power", "tool": "vivado", "tool_version": "2020.2",
        "part": "xc7z020clg400-1", "top": "design_1_wrapper",
        "power_w": {"total": 1.665, "dynamic": 1.529, "static": 0.136}, "junction_c": 44.2,
    },
    "vivado/pynq_add_timing_summary_routed.rpt": {
        "kind": "vivado_timing", "tool": "vivado", "tool_version": "2020.2",
        "part": "xc7z020clg400-1", "top": "design_1_wrapper",
        "wns_ns": 13.199, "tns_ns": 0.0, "whs_ns": 0.04, "failing_endpoints": 0,
        "clock_ns": {"target": 20.0},
    },
    "vivado/pynq_add_utilization_placed.rpt": {
        "kind": "vivado_utilization", "tool": "vivado", "tool_version": "2020.2",
        "part": "xc7z020clg400-1", "top": "design_1_wrapper",
        "resources": {"LUT": 501, "FF": 607, "BRAM18": 0, "DSP": 0, "available": Z7020},
    },
    "vivado/pynq_add_utilization_synth.rpt": {
        "kind": "vivado_utilization", "tool": "vivado", "tool_version": "2020.2",
        "part": "xc7z020clg400-1", "top": "design_1_wrapper",
        "resources": {"LUT": 0, "FF": 0, "BRAM18": 0, "DSP": 0, "available": Z7020},
    },
    "vivado/pynqz1_hw_conv_power_routed.rpt": {
        "kind": "vivado_power", "tool": "vivado", "tool_version": "2018.3",
        "part": "xc7z020clg400-1", "top": "system_wrapper",
        "power_w": {"total": 1.466, "dynamic": 1.33, "static": 0.137}, "junction_c": 41.9,
    },
    "vivado/pynqz1_hw_conv_timing_summary_routed.rpt": {
        "kind": "vivado_timing", "tool": "vivado", "tool_version": "2018.3",
        "part": "xc7z020clg400-1", "top": "system_wrapper",
        "wns_ns": -2.739, "tns_ns": -253.749, "whs_ns": 0.008, "failing_endpoints": 317,
        "clock_ns": {"target": 10.0},
    },
    "vivado/pynqz1_hw_conv_utilization_placed.rpt": {
        "kind": "vivado_utilization", "tool": "vivado", "tool_version": "2018.3",
        "part": "xc7z020clg400-1", "top": "system_wrapper",
        "resources": {"LUT": 9668, "FF": 14347, "BRAM18": 20, "DSP": 0, "available": Z7020},
    },
    "vivado/pynqz2_axil_conv2d_power_routed.rpt": {
        "kind": "vivado_power", "tool": "vivado", "tool_version": "2024.1",
        "part": "xc7z020clg400-1", "top": "design_1_wrapper",
        "power_w": {"total": 1.42, "dynamic": 1.285, "static": 0.135}, "junction_c": 41.4,
    },
    "vivado/pynqz2_axil_conv2d_timing_summary_routed.rpt": {
        "kind": "vivado_timing", "tool": "vivado", "tool_version": "2024.1",
        "part": "xc7z020clg400-1", "top": "design_1_wrapper",
        "wns_ns": 2.123, "tns_ns": 0.0, "whs_ns": 0.069, "failing_endpoints": 0,
        "clock_ns": {"target": 10.0},
    },
    "vivado/pynqz2_axil_conv2d_utilization_placed.rpt": {
        "kind": "vivado_utilization", "tool": "vivado", "tool_version": "2024.1",
        "part": "xc7z020clg400-1", "top": "design_1_wrapper",
        "resources": {"LUT": 825, "FF": 968, "BRAM18": 8, "DSP": 10, "available": Z7020},
    },
    "vivado/pynqz2_axil_conv2d_utilization_synth.rpt": {
        "kind": "vivado_utilization", "tool": "vivado", "tool_version": "2024.1",
        "part": "xc7z020clg400-1", "top": "design_1_wrapper",
        "resources": {"LUT": 923, "FF": 968, "BRAM18": 8, "DSP": 10, "available": Z7020},
    },
    "vivado/zed_aes_axidma_power_routed.rpt": {
        "kind": "vivado_power", "tool": "vivado", "tool_version": "2020.1",
        "part": "xc7z020clg484-1", "top": "design_1_wrapper",
        "power_w": {"total": 2.165, "dynamic": 2.009, "static": 0.156}, "junction_c": 50.0,
    },
    "vivado/zed_aes_axidma_timing_summary_routed.rpt": {
        "kind": "vivado_timing", "tool": "vivado", "tool_version": "2020.1",
        "part": "xc7z020clg484-1", "top": "design_1_wrapper",
        "wns_ns": 0.117, "tns_ns": 0.0, "whs_ns": 0.015, "failing_endpoints": 0,
        "clock_ns": {"target": 7.0},
    },
    "vivado/zed_aes_axidma_utilization_placed.rpt": {
        "kind": "vivado_utilization", "tool": "vivado", "tool_version": "2020.1",
        "part": "xc7z020clg484-1", "top": "design_1_wrapper",
        "resources": {"LUT": 10353, "FF": 8874, "BRAM18": 18, "DSP": 0, "available": Z7020},
    },
    "vivado/zed_hlsdiv_power_routed.rpt": {
        "kind": "vivado_power", "tool": "vivado", "tool_version": "2022.1",
        "part": "xc7z020clg484-1", "top": "design_1_wrapper",
        "power_w": {"total": 1.707, "dynamic": 1.565, "static": 0.142}, "junction_c": 44.7,
    },
    "vivado/zed_hlsdiv_utilization_placed.rpt": {
        "kind": "vivado_utilization", "tool": "vivado", "tool_version": "2022.1",
        "part": "xc7z020clg484-1", "top": "design_1_wrapper",
        "resources": {"LUT": 2601, "FF": 3757, "BRAM18": 8, "DSP": 0, "available": Z7020},
    },
}

# csynth.xml / csynth.rpt written by one synthesis run.
SAME_RUN = [
    ("autoencoder.csynth.xml", "autoencoder_csynth.rpt"),
    ("image_fusion_blendtop.csynth.xml", "image_fusion_blendtop_csynth.rpt"),
    ("lenet5_z7100.csynth.xml", "lenet5_z7100_csynth.rpt"),
    ("pynqz1_hw_conv.csynth.xml", "pynqz1_hw_conv_csynth.rpt"),
    ("pynqz2_axil_conv2d.csynth.xml", "pynqz2_axil_conv2d_csynth.rpt"),
    ("rgb2gray_image_filter.csynth.xml", "rgb2gray_image_filter_csynth.rpt"),
    ("sr_fft.csynth.xml", "sr_fft_csynth.rpt"),
]
SHARED_FIELDS = ("tool", "tool_version", "part", "top", "clock_ns", "latency_cycles",
                 "interval_cycles")


def test_every_fixture_has_expected_figures():
    on_disk = sorted(
        f"{sub}/{path.name}" for sub in ("csynth", "vivado") for path in (VENDOR / sub).iterdir()
    )
    assert on_disk == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_report_figures(name):
    record = parse_report(VENDOR / name)
    assert record.pop("source") == {"file": Path(name).name, "kind": EXPECTED[name]["kind"]}
    assert record == EXPECTED[name]


@pytest.mark.parametrize("xml_name, rpt_name", SAME_RUN)
def test_xml_and_text_csynth_agree(xml_name, rpt_name):
    from_xml = parse_report(VENDOR / "csynth" / xml_name)
    from_rpt = parse_report(VENDOR / "csynth" / rpt_name)
    if xml_name.startswith("pynqz1_hw_conv"):
        # Vivado HLS 2018.3 wrote interval 134480386 into the XML but 134480385 into the text.
        assert from_xml.pop("interval_cycles") == {"min": 134480386, "max": 134480386}
        assert from_rpt.pop("interval_cycles") == {"min": 134480385, "max": 134480385}
    shared = [key for key in SHARED_FIELDS if key in from_xml and key in from_rpt]
    assert {"tool", "tool_version", "part", "top", "latency_cycles"} <= set(shared)
    assert [from_xml[key] for key in shared] == [from_rpt[key] for key in shared]
    xml_resources, rpt_resources = from_xml["resources"], from_rpt["resources"]
    assert set(rpt_resources) <= set(xml_resources)
    assert {key: xml_resources[key] for key in rpt_resources} == rpt_resources


@pytest.mark.parametrize("design", ["pynqz1_hw_conv", "pynqz2_axil_conv2d", "zed_aes_axidma"])
def test_vivado_reports_of_one_project_agree(design):
    records = [parse_report(path) for path in sorted((VENDOR / "vivado").glob(f"{design}_*"))]
    assert len({(r["tool_version"], r["part"], r["top"]) for r in records}) == 1


def test_format_resources_uses_report_or_board_limits():
    record = parse_report(VENDOR / "csynth" / "image_fusion_blendtop.csynth.xml")
    assert format_resources(record) == [
        "LUT 29918 / 53200 (56.2 %)",
        "FF 20858 / 106400 (19.6 %)",
        "BRAM18 20 / 280 (7.1 %)",
        "DSP 146 / 220 (66.4 %)",
        "URAM 0 / 0",
    ]
    text = parse_report(VENDOR / "csynth" / "sr_fft_csynth.rpt")
    assert format_resources(text) == ["LUT 35699", "FF 41251", "BRAM18 20", "DSP 128", "URAM 0"]
    assert format_resources(text, {"DSP": 220, "LUT": 53200})[0] == "LUT 35699 / 53200 (67.1 %)"
    assert format_resources(text, {"DSP": 220, "LUT": 53200})[3] == "DSP 128 / 220 (58.2 %)"


def _expect_error(path, message):
    with pytest.raises(ReportError, match=f"^{re.escape(f'{path}: {message}')}$"):
        parse_report(path)


def test_missing_empty_and_garbage_files(tmp_path):
    _expect_error(tmp_path / "absent.rpt", "no such report file; run the step that writes it first")
    empty = tmp_path / "empty.rpt"
    empty.write_text("\n  \n")
    _expect_error(empty, "report file is empty; rerun the step that writes it")
    garbage = tmp_path / "garbage.rpt"
    garbage.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x01 not a report at all\n")
    _expect_error(
        garbage,
        "not a known report kind; expected an HLS csynth.xml or csynth.rpt, or a Vivado "
        "utilization, timing summary or power report",
    )


@pytest.mark.parametrize("name", sorted(n for n in EXPECTED if n.endswith(".rpt")))
def test_text_report_cut_in_half(tmp_path, name):
    data = (VENDOR / name).read_bytes()
    cut = tmp_path / Path(name).name
    cut.write_bytes(data[: len(data) // 2])
    _expect_error(
        cut,
        "report stops without its closing blank line; it looks truncated, rerun the step that "
        "writes it",
    )


# Cut at the last blank line before the middle, so only the structure shows what is missing.
CUT_AT_BLANK_LINE = {
    "csynth/pynqz1_hw_conv_csynth.rpt": "section '== Interface' is missing",
    "csynth/lenet5_z7100_csynth.rpt": "no module summary table",
    "vivado/pynq_add_utilization_placed.rpt": "section '3. Memory' is missing",
    "vivado/pynqz2_axil_conv2d_utilization_synth.rpt": "section '4. IO and GT Specific' is missing",
    "vivado/zed_hlsdiv_power_routed.rpt": "section '1.3 Confidence Level' is missing",
}


@pytest.mark.parametrize("name", sorted(CUT_AT_BLANK_LINE))
def test_text_report_cut_at_blank_line(tmp_path, name):
    data = (VENDOR / name).read_bytes()
    cut = tmp_path / Path(name).name
    cut.write_bytes(data[: data.rindex(b"\n\n", 0, len(data) // 2) + 2])
    _expect_error(cut, f"{CUT_AT_BLANK_LINE[name]}; the report looks truncated")


@pytest.mark.parametrize("name", sorted(n for n in EXPECTED if n.endswith(".xml")))
def test_csynth_xml_cut_in_half(tmp_path, name):
    data = (VENDOR / name).read_bytes()
    cut = tmp_path / Path(name).name
    cut.write_bytes(data[: len(data) // 2])
    pattern = rf"^{re.escape(str(cut))}: XML does not parse at line \d+, column \d+; "
    with pytest.raises(ReportError, match=pattern + "the report looks truncated$"):
        parse_report(cut)


def test_utilization_without_its_tables(tmp_path):
    text = (VENDOR / "vivado" / "pynq_add_utilization_placed.rpt").read_text()
    cut = tmp_path / "utilization.rpt"
    cut.write_text(text[: text.index("Table of Contents")] + "\n\n")
    _expect_error(cut, "no table of contents; the report looks truncated")


@pytest.mark.parametrize(
    "name, old, new, message",
    [
        ("csynth/rgb2gray_image_filter.csynth.xml", "<Version>2018.2<", "<Version>2017.4<",
         "Vivado HLS 2017.4 is outside the supported range 2018.1 to 2020.1"),
        ("csynth/sr_fft_csynth.rpt", "Version:        2022.2", "Version:        2025.1",
         "Vitis HLS 2025.1 is outside the supported range 2020.1 to 2024.2"),
        ("vivado/zed_hlsdiv_power_routed.rpt", "Vivado v.2022.1", "Vivado v.2017.2",
         "Vivado 2017.2 is outside the supported range 2018.1 to 2024.2"),
    ],
)
def test_unsupported_tool_version(tmp_path, name, old, new, message):
    text = (VENDOR / name).read_text()
    assert old in text
    copy = tmp_path / Path(name).name
    copy.write_text(text.replace(old, new))
    _expect_error(copy, f"{message}; regenerate the report with a supported release")


def test_undefined_latency_halves_are_absent(tmp_path):
    text = (VENDOR / "csynth" / "rgb2gray_image_filter.csynth.xml").read_text()
    edited = text.replace("<Best-caseLatency>10<", "<Best-caseLatency>undef<")
    copy = tmp_path / "csynth.xml"
    copy.write_text(edited.replace("<Interval-max>4014004<", "<Interval-max>undef<"))
    record = parse_report(copy)
    assert record["latency_cycles"] == {"max": 4014004}
    assert record["interval_cycles"] == {"min": 4}


def test_kind_comes_from_content_not_name(tmp_path):
    copy = tmp_path / "power.xml"
    shutil.copy(VENDOR / "vivado" / "zed_aes_axidma_utilization_placed.rpt", copy)
    assert parse_report(copy)["kind"] == "vivado_utilization"


def test_summary_report_ranges_and_unknown_cells(tmp_path):
    text = (VENDOR / "csynth" / "lenet5_z7100_csynth.rpt").read_text()
    row = "|  Timing|   2.60|  1440328|  1.440e+07|         -|  1440329|"
    assert row in text
    copy = tmp_path / "csynth.rpt"
    copy.write_text(text.replace(row, "|  Timing|   2.60|  12 ~ 1440328|  1.440e+07|    -|    ?|"))
    record = parse_report(copy)
    assert record["latency_cycles"] == {"min": 12, "max": 1440328}
    assert "interval_cycles" not in record


def test_half_block_ram_tiles_count_as_bram18(tmp_path):
    text = (VENDOR / "vivado" / "pynq_add_utilization_placed.rpt").read_text()
    copy = tmp_path / "utilization.rpt"
    copy.write_text(text.replace("| Block RAM Tile |    0 |", "| Block RAM Tile |  2.5 |"))
    assert parse_report(copy)["resources"]["BRAM18"] == 5
