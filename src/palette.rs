//! The colours of label values, the same in the viewer and in every file handed to annotators'
//! tools (ITK-SNAP's label descriptions, Slicer's segment colours).

/// The colour of label value `value` (a fixed palette, the same in every view).
pub fn label_color(value: u16) -> [u8; 3] {
    const PALETTE: [[u8; 3]; 10] = [
        [230, 40, 40],
        [40, 200, 70],
        [50, 120, 255],
        [240, 220, 40],
        [40, 220, 230],
        [220, 60, 220],
        [255, 140, 20],
        [160, 110, 60],
        [150, 230, 150],
        [250, 160, 190],
    ];
    PALETTE[(value.max(1) as usize - 1) % PALETTE.len()]
}
