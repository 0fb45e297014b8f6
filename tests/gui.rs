//! The GUI, headless (egui_kittest): it opens on the demo cohort, plans, and shows the plan.

use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use sliceplan::app::{Settings, SliceplanApp};
use sliceplan::dataset::demo;

fn harness() -> Harness<'static, SliceplanApp> {
    let settings = Settings {
        budget_slices: 30,
        holdout: 0,
        ..Settings::default()
    };
    let app = SliceplanApp::new(demo::dataset(), settings);
    Harness::builder()
        .with_size(egui::vec2(1400.0, 900.0))
        .build_ui_state(|ui, app: &mut SliceplanApp| app.show_ui(ui), app)
}

fn run_until_idle(h: &mut Harness<'static, SliceplanApp>) {
    for _ in 0..600 {
        h.step();
        if !h.state().busy() {
            h.step();
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    panic!("the app stayed busy");
}

#[test]
fn opens_on_the_demo_and_plans_from_the_button() {
    let mut h = harness();
    run_until_idle(&mut h);
    h.get_by_label("demo_000");
    assert!(
        h.state().loaded.is_some(),
        "first case loaded in the viewer"
    );
    h.get_by_label("Make plan").click();
    h.step();
    run_until_idle(&mut h);
    let plan = h.state().plan.clone().expect("a plan");
    assert_eq!(plan.total_slices(), 30);
    assert!(
        h.state().status.contains("plan: 30 slices in 24 volumes"),
        "{}",
        h.state().status
    );
    // The case list shows per-case planned counts.
    let first = &plan.volumes[0];
    h.get_by_label(&format!(
        "{}  · {} slices",
        first.case_id,
        first.slices.len()
    ));
}

#[test]
fn a_bad_typed_path_is_reported_not_fatal() {
    let mut h = harness();
    run_until_idle(&mut h);
    h.state_mut().open_path("/definitely/not/here");
    h.step();
    assert!(
        h.state()
            .status
            .starts_with("error: no such file or folder"),
        "{}",
        h.state().status
    );
    assert_eq!(h.state().dataset.id, "demo");
}

#[test]
fn the_simulation_panel_offers_all_three_comparisons() {
    let mut h = harness();
    run_until_idle(&mut h);
    // Claim 1 (volumes vs slices) is the button itself; claims 2 and 3 are options.
    h.get_by_label("Simulate volumes vs slices");
    h.get_by_label("Seeds per plan");
    h.get_by_label("Compare slice strategies (fixed, random, ual)")
        .click();
    h.get_by_label("Also train on interpolated masks (sdf)")
        .click();
    h.step();
    assert!(h.state().settings.sim_compare_strategies);
    assert!(h.state().settings.sim_interpolation);
}
