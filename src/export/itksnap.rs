//! Files for ITK-SNAP: a workspace (`.itksnap`, its XML registry) naming a case's image as the
//! main layer and its label template as the segmentation, and the label descriptions file that
//! Segmentation → Import Label Descriptions reads (names and colours of the dataset's labels).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

/// ITK-SNAP's workspace format version written (3.8 and later read it).
const WORKSPACE_VERSION: &str = "20190612";

/// `text` with XML's five special characters escaped.
fn xml_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}

/// A workspace saved in `folder` that opens `image` with `segmentation` over it.
pub fn workspace(folder: &Path, image: &Path, segmentation: &Path) -> String {
    let entry = |key: &str, value: &Path| {
        format!(
            "<entry key=\"{key}\" value=\"{}\" />",
            xml_escape(&value.display().to_string())
        )
    };
    let mut out = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\" ?>\n<!--ITK-SNAP (itksnap.org) Project File-->\n<!DOCTYPE registry [\n<!ELEMENT registry (entry*,folder*)>\n<!ELEMENT folder (entry*,folder*)>\n<!ELEMENT entry EMPTY>\n<!ATTLIST folder key CDATA #REQUIRED>\n<!ATTLIST entry key CDATA #REQUIRED>\n<!ATTLIST entry value CDATA #REQUIRED>\n]>\n<registry>\n",
    );
    let _ = writeln!(out, "  {}", entry("SaveLocation", folder));
    let _ = writeln!(
        out,
        "  <entry key=\"Version\" value=\"{WORKSPACE_VERSION}\" />"
    );
    out.push_str("  <folder key=\"Layers\" >\n");
    for (n, (path, role)) in [(image, "MainRole"), (segmentation, "SegmentationRole")]
        .into_iter()
        .enumerate()
    {
        let _ = writeln!(out, "    <folder key=\"Layer[{n:03}]\" >");
        let _ = writeln!(out, "      {}", entry("AbsolutePath", path));
        let _ = writeln!(out, "      <entry key=\"Role\" value=\"{role}\" />");
        out.push_str("      <entry key=\"Tags\" value=\"\" />\n    </folder>\n");
    }
    out.push_str("  </folder>\n</registry>\n");
    out
}

/// ITK-SNAP's label descriptions: 0 clear, each of `labels` (value → name) in its colour, and
/// `ignore` (the template's value off the planned slices) grey and hidden.
pub fn label_descriptions(labels: &BTreeMap<i64, String>, ignore: u16) -> String {
    let mut out = String::from(
        "################################################\n# ITK-SnAP Label Description File\n# File format:\n# IDX   -R-  -G-  -B-  -A--  VIS MSH  LABEL\n# Written by sliceplan: paint only on the planned slices; leave \"not planned\" as it is.\n################################################\n",
    );
    let _ = writeln!(
        out,
        "{:>5} {:>5} {:>4} {:>4} {:>8} {:>2} {:>2}    \"Clear Label\"",
        0, 0, 0, 0, 0, 0, 0
    );
    for (&value, name) in labels
        .iter()
        .filter(|(v, _)| **v > 0 && **v < ignore as i64)
    {
        let [r, g, b] = crate::palette::label_color(value as u16);
        let _ = writeln!(
            out,
            "{value:>5} {r:>5} {g:>4} {b:>4} {:>8} {:>2} {:>2}    \"{}\"",
            1,
            1,
            1,
            name.replace('"', "'")
        );
    }
    let _ = writeln!(
        out,
        "{ignore:>5} {:>5} {:>4} {:>4} {:>8} {:>2} {:>2}    \"not planned\"",
        128, 128, 128, 0, 0, 0
    );
    out
}
