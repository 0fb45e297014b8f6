//! Slice features of a dataset's cases, read once and kept in the dataset's feature cache; the
//! first plan on a dataset computes the features of many volumes, so it reads them on every core.

use std::sync::Arc;

use crate::dataset::parallel::read_cases;
use crate::dataset::slice_features::{BodyRule, SliceFeatures, slice_features};
use crate::dataset::{CaseGeometry, Dataset};
use crate::error::Result;
use crate::io::Volume;
use crate::jobs::Progress;

/// The slice features of case `index` along `axis`, from the dataset's feature cache or
/// computed (and kept) from its image; the labels are not read.
pub fn case_features(
    dataset: &Dataset,
    index: usize,
    axis: usize,
    rule: &BodyRule,
) -> Result<Arc<SliceFeatures>> {
    if let Some(f) = dataset.features.get(index, axis, rule) {
        return Ok(f);
    }
    let image = dataset.load_image(index)?;
    Ok(keep_features(dataset, index, axis, rule, &image))
}

/// The slice features of case `index`'s `image` along `axis`, computed and kept in the
/// dataset's feature cache.
pub fn keep_features(
    dataset: &Dataset,
    index: usize,
    axis: usize,
    rule: &BodyRule,
    image: &Volume,
) -> Arc<SliceFeatures> {
    let case = &dataset.cases[index];
    let f = Arc::new(slice_features(
        image,
        axis,
        case.modality.or_inferred(image, &case.id),
        rule,
    ));
    dataset.features.insert(index, axis, rule, Arc::clone(&f));
    f
}

/// Computes (and keeps in the dataset's feature cache) the features of `cases` not kept yet,
/// reading their images on every core (`dataset::parallel::read_cases`). Progress runs from
/// `from` to `to`; on failure, the error of the first failing case in `cases`' order.
pub fn prefetch_features(
    dataset: &Dataset,
    cases: &[usize],
    axes: &[usize],
    geometries: &[CaseGeometry],
    rule: &BodyRule,
    progress: &Progress,
    (from, to): (f32, f32),
) -> Result<()> {
    let missing: Vec<usize> = cases
        .iter()
        .copied()
        .filter(|&i| dataset.features.get(i, axes[i], rule).is_none())
        .collect();
    read_cases(
        dataset,
        &missing,
        (geometries, 1),
        progress,
        (from, to, "slice features of"),
        |case| case_features(dataset, case, axes[case], rule).map(drop),
    )?;
    Ok(())
}
