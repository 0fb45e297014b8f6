//! The GUI, headless (egui_kittest): it opens on the demo cohort, plans, previews, exports,
//! simulates and cancels, and switches datasets without results landing on the wrong one.

mod common;

use common::*;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use sliceplan::app::{Settings, SliceplanApp};
use sliceplan::dataset::demo;
use sliceplan::io::Plane;

fn harness_with(settings: Settings) -> Harness<'static, SliceplanApp> {
    let mut app = SliceplanApp::new(demo::dataset(), settings);
    // Simulations keep their runs in a store: a temporary one, never the user's.
    let store = std::env::temp_dir()
        .join("sliceplan-gui-tests")
        .join(format!(
            "{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
    let _ = std::fs::remove_dir_all(&store);
    app.store_dir = Some(store);
    Harness::builder()
        .with_size(egui::vec2(1400.0, 900.0))
        .build_ui_state(|ui, app: &mut SliceplanApp| app.show_ui(ui), app)
}

fn harness() -> Harness<'static, SliceplanApp> {
    harness_with(Settings {
        budget_slices: 30,
        holdout: 0,
        ..Settings::default()
    })
}

fn run_until_idle(h: &mut Harness<'static, SliceplanApp>) {
    for _ in 0..1500 {
        h.step();
        if !h.state().busy() {
            h.step();
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    panic!("the app stayed busy: {}", h.state().status);
}

fn make_plan(h: &mut Harness<'static, SliceplanApp>) -> sliceplan::plan::Plan {
    h.get_by_label("Make plan").click();
    h.step();
    run_until_idle(h);
    h.state().plan.clone().expect("a plan")
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
    let plan = make_plan(&mut h);
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
    run_until_idle(&mut h);
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
fn switching_datasets_drops_the_jobs_of_the_old_one() {
    let dir = tempdir();
    let raw = dir.path().join("Dataset900_other");
    demo::write_nnunet(&raw).unwrap();
    let mut h = harness();
    run_until_idle(&mut h);
    // A simulation and a plan start on the demo; then another dataset is opened.
    h.state_mut().start_simulation();
    h.state_mut().start_plan();
    h.step();
    assert!(h.state().busy());
    h.state_mut().open_path(raw.to_str().unwrap());
    run_until_idle(&mut h);
    let app = h.state();
    assert_eq!(app.dataset.id, "Dataset900_other", "{}", app.status);
    assert!(
        app.plan.is_none(),
        "the demo's plan landed on the new dataset"
    );
    assert!(app.sim_results.is_empty() && app.sim_skipped.is_empty());
    assert!(
        app.status.starts_with("opened 'Dataset900_other'"),
        "{}",
        app.status
    );
    assert_eq!(app.settings.data_path.as_deref(), raw.to_str());
}

#[test]
fn the_simulation_options_shape_the_run_and_cancel_is_not_an_error() {
    let mut h = harness_with(Settings {
        budget_slices: 30,
        holdout: 4,
        sim_compare_strategies: true,
        sim_interpolation: true,
        steps: 10_000,
        ..Settings::default()
    });
    run_until_idle(&mut h);
    h.get_by_label("Simulate volumes vs slices").click();
    h.step();
    // 3 strategies × (with, without sdf) × 4 volume counts.
    let mut message = String::new();
    for _ in 0..500 {
        h.step();
        message = h
            .state()
            .status_of_jobs()
            .into_iter()
            .find(|(name, _)| *name == "simulating")
            .map(|(_, m)| m)
            .unwrap_or_default();
        if message.contains("run 1 of 24") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(message.contains("run 1 of 24"), "{message}");
    h.get_by_label("Cancel simulating").click();
    run_until_idle(&mut h);
    assert!(
        h.state()
            .status
            .starts_with("simulation cancelled; 0 finished run(s) kept"),
        "{}",
        h.state().status
    );
    // The app stays usable.
    make_plan(&mut h);
}

#[test]
fn interpolation_preview_and_worklist_export() {
    let dir = tempdir();
    let mut h = harness_with(Settings {
        budget_slices: 24 * 4,
        volumes: 24,
        holdout: 0,
        ..Settings::default()
    });
    run_until_idle(&mut h);
    let plan = make_plan(&mut h);
    // The first case (loaded) has 4 planned slices: preview the sdf masks between them.
    h.get_by_label("Preview interpolation").click();
    h.step();
    run_until_idle(&mut h);
    let (interp, report) = h.state().preview.clone().expect("a preview");
    assert_eq!(report.case_id, "demo_000");
    assert!(report.interpolated_slices > 0);
    assert!(interp.labels.iter().any(|&l| l > 0));
    assert!(
        h.state().status.starts_with("interpolated"),
        "{}",
        h.state().status
    );
    // Without a file dialog the typed path is used.
    let csv = dir.path().join("worklist.csv");
    h.state_mut().export_path = csv.display().to_string();
    h.get_by_label("Worklist CSV…").click();
    h.step();
    run_until_idle(&mut h);
    let text = std::fs::read_to_string(&csv).expect("worklist written");
    assert_eq!(text.lines().count(), plan.total_slices() + 1);
    assert!(
        h.state().status.contains("worklist of 96 slices"),
        "{}",
        h.state().status
    );
}

#[test]
fn a_planned_case_is_shown_along_its_plans_axis() {
    let mut h = harness();
    run_until_idle(&mut h);
    make_plan(&mut h);
    h.state_mut().settings.plane = Plane::Sagittal;
    h.step();
    h.get_by_label("Shown along the plan's axis (axial), not the sagittal plane chosen since.");
}

#[test]
fn settings_round_trip_and_a_corrupt_file_is_reported() {
    let dir = tempdir();
    let path = dir.path().join("settings.json");
    let custom = Settings {
        budget_slices: 123,
        plane: Plane::Coronal,
        sim_seeds: 3,
        data_path: Some("/data/pilot".into()),
        ..Settings::default()
    };
    custom.save_to(&path).unwrap();
    let (back, notice) = Settings::load_from(&path);
    assert_eq!(back, custom);
    assert!(notice.is_none());
    std::fs::write(&path, "{ not json").unwrap();
    let (back, notice) = Settings::load_from(&path);
    assert_eq!(back, Settings::default());
    let notice = notice.expect("a notice");
    assert!(
        notice.contains("corrupt") && notice.contains("settings.json"),
        "{notice}"
    );
    let (back, notice) = Settings::load_from(&dir.path().join("absent.json"));
    assert_eq!((back, notice), (Settings::default(), None));
}

#[test]
fn a_dicom_series_opens_by_typed_path_plans_and_the_log_panel_shows_it() {
    let Some(real) = real_data() else { return };
    let series = real.join("totalseg-ct-dicom-abdomen/dicom");
    sliceplan::log::init_recent_only();
    let mut h = harness_with(Settings {
        budget_slices: 5,
        holdout: 0,
        ..Settings::default()
    });
    run_until_idle(&mut h);
    h.state_mut().open_path(series.to_str().unwrap());
    run_until_idle(&mut h);
    assert_eq!(h.state().dataset.len(), 1, "{}", h.state().status);
    let loaded = h.state().loaded.clone().expect("the series is shown");
    assert_eq!(loaded.image.shape, [512, 512, 20]);
    let plan = make_plan(&mut h);
    assert_eq!(plan.total_slices(), 5);
    // The log panel lists what the library logged (the same lines the CLI prints on stderr).
    h.get_by_label("Log").click();
    h.step();
    h.step();
    assert!(
        h.query_by_label_contains("opened dataset 'dicom'")
            .is_some(),
        "log panel: {:?}",
        sliceplan::log::recent()
    );
}

#[test]
fn a_300_case_cohort_lists_without_loading_every_volume() {
    let mut h = harness();
    run_until_idle(&mut h);
    h.state_mut().open_path("synthetic-ct:300");
    run_until_idle(&mut h);
    assert_eq!(h.state().dataset.len(), 300, "{}", h.state().status);
    // The first case is shown; the list shows its first rows, not all 300.
    h.get_by_label("ct_0000");
    assert!(h.query_by_label("ct_0299").is_none());
    assert_eq!(
        h.state().loaded.as_ref().map(|c| c.id.as_str()),
        Some("ct_0000")
    );
}
