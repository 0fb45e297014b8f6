//! The GUI, headless (egui_kittest): it opens on the demo cohort, plans, previews, exports,
//! simulates and cancels, and switches datasets without results landing on the wrong one.

mod common;

use common::*;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use sliceplan::app::{Settings, SliceplanApp, request_from_settings, simulation_request};
use sliceplan::dataset::demo;
use sliceplan::interp::{GapRule, Method};
use sliceplan::io::Plane;
use sliceplan::train::BackendChoice;

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
    // The demo's default target is the spleen, where plans differ.
    assert_eq!(h.state().settings.target_label, Some(demo::DEFAULT_TARGET));
    let plan = make_plan(&mut h);
    assert_eq!(plan.request.target.values.first(), Some(&3));
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
fn the_same_test_volumes_box_holds_out_seed_0s_volumes_whatever_the_seed() {
    let mut h = harness_with(Settings {
        budget_slices: 30,
        holdout: 4,
        seed: 3,
        ..Settings::default()
    });
    run_until_idle(&mut h);
    let total = demo::dataset().len();
    let drawn = |seed| {
        let request = sliceplan::plan::PlanRequest {
            holdout: 4,
            seed,
            ..Default::default()
        };
        request.held_out(total)
    };
    assert_ne!(
        drawn(3),
        drawn(0),
        "seeds 3 and 0 hold out different volumes"
    );
    // Simulations and estimates hold out; the plan for annotation does not.
    let own = make_plan(&mut h);
    assert!(own.test_cases.is_empty(), "{:?}", own.test_cases);
    let simulated = |h: &Harness<'static, SliceplanApp>| {
        let s = &h.state().settings;
        simulation_request(&request_from_settings(s), s).held_out(total)
    };
    assert_eq!(simulated(&h), drawn(3));
    h.get_by_label("Same test volumes for every seed").click();
    h.step();
    assert!(h.state().settings.same_test_volumes);
    assert_eq!(simulated(&h), drawn(0));
}

#[test]
fn a_single_file_plans_with_the_default_settings() {
    let dir = tempdir();
    let path = dir.path().join("image.nii.gz");
    let (image, _) = demo::generate(0);
    sliceplan::io::write_nifti(&path, &image).unwrap();
    let mut h = harness_with(Settings::default());
    run_until_idle(&mut h);
    h.state_mut().open_path(path.to_str().unwrap());
    run_until_idle(&mut h);
    assert_eq!(h.state().dataset.len(), 1, "{}", h.state().status);
    let plan = make_plan(&mut h);
    assert_eq!(plan.volumes.len(), 1, "{}", h.state().status);
    assert!(plan.test_cases.is_empty());
    assert!(
        h.state().status.starts_with("plan: "),
        "{}",
        h.state().status
    );
}

/// Writes a volume of `shape` filled by `value(i, j, k)` as `dir/name`.
fn write_volume(
    path: &std::path::Path,
    shape: [usize; 3],
    value: impl Fn(usize, usize, usize) -> i16,
) {
    let mut data = Vec::with_capacity(shape.iter().product());
    for k in 0..shape[2] {
        for j in 0..shape[1] {
            for i in 0..shape[0] {
                data.push(value(i, j, k));
            }
        }
    }
    let v = volume(shape, [1.0, 1.0, 2.0], sliceplan::io::VoxelData::I16(data));
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    sliceplan::io::write_nifti(path, &v).unwrap();
}

#[test]
fn a_second_file_of_the_same_name_gets_its_own_view() {
    let dir = tempdir();
    // a: a CT in HU (air, water, bone), 40 slices; b: an MR of smaller values, 12 slices.
    let a = dir.path().join("a").join("image.nii.gz");
    write_volume(&a, [32, 32, 40], |i, _, _| match i {
        0..8 => -1000,
        8..24 => 40,
        _ => 700,
    });
    let b = dir.path().join("b").join("image.nii.gz");
    write_volume(&b, [20, 24, 12], |i, j, _| (i * 10 + j) as i16);
    let mut h = harness_with(Settings::default());
    run_until_idle(&mut h);
    h.state_mut().open_path(a.to_str().unwrap());
    run_until_idle(&mut h);
    let window_a = h.state().viewer().window();
    // Move the crosshair deep into a's last slices and window it by hand.
    h.state_mut().viewer_mut().cursor = [30, 30, 38];
    h.state_mut().viewer_mut().window = Some(sliceplan::view::Window {
        center: 400.0,
        width: 50.0,
    });
    h.step();
    h.state_mut().open_path(b.to_str().unwrap());
    run_until_idle(&mut h);
    let app = h.state();
    assert_eq!(app.loaded.as_ref().unwrap().image.shape, [20, 24, 12]);
    assert_eq!(
        app.viewer().cursor,
        [10, 12, 6],
        "b is shown at its own centre"
    );
    let window_b = app.viewer().window();
    assert_ne!(window_b, window_a);
    // b's window spans its own values (0..=209), not a's HU nor the hand-set one.
    assert!(
        window_b.width < 400.0 && window_b.center > 0.0 && window_b.center < 210.0,
        "{window_b:?}"
    );
    // Its pixels are drawn: the view textures were made for this load, and the readout under
    // the pointer is b's value there (i * 10 + j).
    assert_eq!(app.viewer().shown_generation(), Some(app.load_generation));
    let centre = view_center(&h, Plane::Axial);
    h.hover_at(centre);
    h.step();
    let probe = h
        .state()
        .viewer()
        .hover
        .clone()
        .expect("a voxel under the pointer");
    assert!(probe.ijk.iter().zip([20, 24, 12]).all(|(&i, n)| i < n));
    assert_eq!(probe.intensity, (probe.ijk[0] * 10 + probe.ijk[1]) as f64);
}

#[test]
fn a_cancelled_open_never_switches_the_dataset() {
    let dir = tempdir();
    let raw = dir.path().join("Dataset901_cancelled");
    demo::write_nnunet(&raw).unwrap();
    let mut h = harness();
    run_until_idle(&mut h);
    h.state_mut().open_path(raw.to_str().unwrap());
    h.state_mut().cancel_all();
    run_until_idle(&mut h);
    assert_eq!(h.state().dataset.id, "demo", "{}", h.state().status);
    assert!(
        h.state().status.contains("opening cancelled"),
        "{}",
        h.state().status
    );
    // The demo cohort chosen while an open is pending wins over it.
    h.state_mut().open_path(raw.to_str().unwrap());
    h.get_by_label("Demo cohort").click();
    h.step();
    run_until_idle(&mut h);
    assert_eq!(h.state().dataset.id, "demo", "{}", h.state().status);
}

#[test]
fn a_preview_of_an_earlier_plan_is_not_drawn_over_a_new_one() {
    let mut h = harness();
    run_until_idle(&mut h);
    make_plan(&mut h);
    let planned = h.state().plan.as_ref().unwrap().volumes[0].case_id.clone();
    let index = h
        .state()
        .dataset
        .cases
        .iter()
        .position(|c| c.id == planned)
        .unwrap();
    h.state_mut().selected = index;
    h.state_mut().select_case(index);
    run_until_idle(&mut h);
    // The preview starts on this plan; a replan lands before the preview does.
    h.state_mut().start_preview();
    h.state_mut().settings.budget_slices = 48;
    h.state_mut().start_plan();
    run_until_idle(&mut h);
    assert_eq!(h.state().plan.as_ref().unwrap().total_slices(), 48);
    assert!(
        h.state().preview.is_none(),
        "the preview of the 30-slice plan was kept over the 48-slice plan"
    );
}

#[test]
fn the_frontier_is_estimated_at_the_plans_budget_not_the_settings() {
    let mut h = harness();
    run_until_idle(&mut h);
    h.state_mut().settings.live_plan = false;
    make_plan(&mut h);
    // The budget changes in the settings, but no new plan is made.
    h.state_mut().settings.budget_slices = 90;
    h.step();
    let setup = h.state().estimate_setup().expect("store open and a plan");
    assert_eq!(
        setup.base.budget,
        Some(sliceplan::plan::Budget::Slices(30)),
        "estimates follow the plan shown"
    );
    assert!(setup.base.holdout > 0, "estimates hold volumes out");
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
    // Training on while a net has not fitted its slices is on by default, and can be turned off.
    assert!(h.state().settings.sim_until_fitted);
    h.get_by_label_contains("while a net has not fitted its slices")
        .click();
    h.step();
    assert!(!h.state().settings.sim_until_fitted);
    // Masks from the labels alone side by side with those that read the image.
    h.get_by_label_contains("interpolated from the labels alone (sdf-labels)")
        .click();
    h.step();
    assert!(h.state().settings.sim_interpolation_labels_only);
    // PyTorch's kernels are offered where the build has them; elsewhere the choice is greyed
    // out and clicking it changes nothing.
    h.get_by_label("PyTorch").click();
    h.step();
    let torch = if cfg!(feature = "torch") {
        BackendChoice::Torch
    } else {
        BackendChoice::Auto
    };
    assert_eq!(h.state().settings.backend, torch);
    h.get_by_label("auto").click();
    h.step();
    h.get_by_label("Simulate volumes vs slices").click();
    h.step();
    // 3 strategies × (without, sdf, sdf-labels) × 4 volume counts.
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
        if message.contains("run 1 of 36") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(message.contains("run 1 of 36"), "{message}");
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
    let by_image = |r: &sliceplan::interp::CaseInterp| {
        r.gap_rules
            .iter()
            .filter(|g| g.rule == GapRule::ImageCap)
            .count()
    };
    assert!(by_image(&report) > 0, "{:?}", report.gap_rules);
    // The same preview from the labels alone.
    h.get_by_label("read the image").click();
    h.step();
    assert!(!h.state().settings.interp_reads_image);
    h.get_by_label("Preview interpolation").click();
    h.step();
    run_until_idle(&mut h);
    let (_, alone) = h.state().preview.clone().expect("a preview");
    assert_eq!(
        (report.method, alone.method),
        (Method::Sdf, Method::SdfLabels)
    );
    assert!(
        h.state().status.contains("(sdf-labels)"),
        "{}",
        h.state().status
    );
    assert_eq!(alone.interpolated_slices, report.interpolated_slices);
    assert_eq!(by_image(&alone), 0, "{:?}", alone.gap_rules);
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

/// The centre of `plane`'s view in the last frame.
fn view_center(h: &Harness<'static, SliceplanApp>, plane: Plane) -> egui::Pos2 {
    h.state()
        .viewer()
        .view_rects
        .iter()
        .find(|(p, _)| *p == plane)
        .map(|(_, r)| r.center())
        .expect("the view is drawn")
}

fn wheel(h: &mut Harness<'static, SliceplanApp>, at: egui::Pos2, lines: f32, ctrl: bool) {
    h.hover_at(at);
    h.event(egui::Event::MouseWheel {
        unit: egui::MouseWheelUnit::Line,
        delta: egui::vec2(0.0, lines),
        phase: egui::TouchPhase::Move,
        source: egui::MouseWheelSource::Unknown,
        modifiers: if ctrl {
            egui::Modifiers::CTRL
        } else {
            egui::Modifiers::NONE
        },
    });
    h.step();
}

fn button(
    h: &mut Harness<'static, SliceplanApp>,
    at: egui::Pos2,
    button: egui::PointerButton,
    pressed: bool,
) {
    h.event(egui::Event::PointerButton {
        pos: at,
        button,
        pressed,
        modifiers: egui::Modifiers::NONE,
    });
    h.step();
}

#[test]
fn three_views_follow_the_wheel_the_crosshair_zoom_and_window_level() {
    let mut h = harness();
    run_until_idle(&mut h);
    let plan = make_plan(&mut h);
    h.step();
    let planes: Vec<Plane> = h.state().viewer().view_rects.iter().map(|v| v.0).collect();
    assert_eq!(planes.len(), 3, "{planes:?}");
    for p in Plane::ALL {
        assert!(planes.contains(&p), "{planes:?}");
    }
    // The first case's planned slices are listed in the strip along the plan's (axial) axis.
    let planned = plan
        .volume("demo_000")
        .expect("demo_000 planned")
        .slices
        .len();
    h.get_by_label_contains(&format!("{planned} planned axial slices of demo_000"));
    // Wheel over the axial view: one slice per notch, crosshair and other views follow.
    let axial = view_center(&h, Plane::Axial);
    let before = h.state().viewer().cursor;
    wheel(&mut h, axial, 1.0, false);
    wheel(&mut h, axial, 1.0, false);
    let after = h.state().viewer().cursor;
    assert_eq!(after[2], before[2] + 2, "{before:?} → {after:?}");
    assert_eq!((after[0], after[1]), (before[0], before[1]));
    // Hovering reads out the voxel under the pointer.
    h.hover_at(axial + egui::vec2(5.0, 5.0));
    h.step();
    let probe = h.state().viewer().hover.clone().expect("a readout");
    assert_eq!(probe.ijk[2], after[2]);
    h.get_by_label_contains("voxel (");
    // A click on the coronal view moves the crosshair's in-plane coordinates there.
    let coronal = view_center(&h, Plane::Coronal) + egui::vec2(-20.0, 10.0);
    h.hover_at(coronal);
    button(&mut h, coronal, egui::PointerButton::Primary, true);
    button(&mut h, coronal, egui::PointerButton::Primary, false);
    let clicked = h.state().viewer().cursor;
    assert_eq!(clicked[1], after[1], "the coronal slice stays");
    assert_ne!(
        (clicked[0], clicked[2]),
        (after[0], after[2]),
        "moved within the coronal plane"
    );
    // Ctrl-wheel zooms the hovered view only.
    wheel(&mut h, axial, 3.0, true);
    assert!(h.state().viewer().zoom(Plane::Axial) > 1.2);
    assert_eq!(h.state().viewer().zoom(Plane::Coronal), 1.0);
    // Right-drag: to the right widens the window, down raises the level.
    let w0 = h.state().viewer().window();
    h.hover_at(axial);
    button(&mut h, axial, egui::PointerButton::Secondary, true);
    for i in 1..=4 {
        h.hover_at(axial + egui::vec2(15.0 * i as f32, 10.0 * i as f32));
        h.step();
    }
    button(
        &mut h,
        axial + egui::vec2(60.0, 40.0),
        egui::PointerButton::Secondary,
        false,
    );
    let w1 = h.state().viewer().window();
    assert!(
        w1.width > w0.width && w1.center > w0.center,
        "{w0:?} → {w1:?}"
    );
    assert!(
        h.state().viewer().preset.is_none(),
        "a dragged window is custom"
    );
}

#[test]
fn changing_the_budget_replans_live_and_the_views_follow() {
    let mut h = harness_with(Settings {
        budget_slices: 30,
        holdout: 0,
        // Tests share the machine: plans may take longer than the default's 2 s here.
        live_plan_max_seconds: 60.0,
        ..Settings::default()
    });
    run_until_idle(&mut h);
    let first = make_plan(&mut h);
    assert_eq!(first.total_slices(), 30);
    assert!(h.state().last_plan_seconds.is_some(), "plans are timed");
    h.state_mut().settings.budget_slices = 60;
    h.step();
    run_until_idle(&mut h);
    let second = h.state().plan.clone().expect("a plan");
    assert_eq!(second.total_slices(), 60, "replanned without a button");
    let planned = second.volume("demo_000").map_or(0, |v| v.slices.len());
    assert!(planned > 0);
    h.get_by_label_contains(&format!("{planned} planned axial slices of demo_000"));
}

/// Settings for estimates that finish in seconds on a CPU.
fn tiny_estimates() -> Settings {
    Settings {
        budget_slices: 40,
        holdout: 4,
        estimate_preset: sliceplan::study::Preset::Tiny,
        estimate_points: 2,
        estimate_seeds: 1,
        backend: sliceplan::train::BackendChoice::Cpu,
        ..Settings::default()
    }
}

fn wait_for(
    h: &mut Harness<'static, SliceplanApp>,
    what: &str,
    done: impl Fn(&SliceplanApp) -> bool,
) {
    for _ in 0..3000 {
        h.step();
        if done(h.state()) {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    panic!("waited too long for {what}: {}", h.state().status);
}

#[test]
fn a_frontier_point_is_chosen_by_clicking_it_and_estimates_fill_it_in() {
    let mut h = harness_with(tiny_estimates());
    run_until_idle(&mut h);
    let plan = make_plan(&mut h);
    h.step();
    let points = h.state().frontier_points();
    assert!(points.len() > 3, "{} frontier points", points.len());
    assert!(
        points.iter().all(|p| p.dice.is_none()),
        "nothing estimated yet"
    );
    // Click the point with the fewest volumes.
    let (pos, volumes) = h.state().frontier_hits[0];
    assert_ne!(volumes, plan.volumes.len());
    h.hover_at(pos);
    button(&mut h, pos, egui::PointerButton::Primary, true);
    button(&mut h, pos, egui::PointerButton::Primary, false);
    run_until_idle(&mut h);
    let chosen = h.state().plan.clone().expect("a plan");
    assert_eq!(
        chosen.volumes.len(),
        volumes,
        "the clicked allocation is planned"
    );
    assert_eq!(
        chosen.total_slices(),
        plan.total_slices(),
        "at the same budget"
    );
    // Estimate races the chosen point and a spread: one tiny run at both ends and the middle,
    // stored as they end; with one seed allowed (and tiny runs that hardly learn) it can tell
    // nothing apart, and says so.
    h.get_by_label("Estimate").click();
    h.step();
    run_until_idle(&mut h);
    let status = h.state().status.clone();
    assert!(
        status.starts_with("estimated the frontier: undecided after "),
        "{status}"
    );
    let points = h.state().frontier_points();
    let done: Vec<usize> = points
        .iter()
        .filter(|p| p.done > 0)
        .map(|p| p.trade_off.volumes)
        .collect();
    assert!(done.contains(&volumes) && done.len() >= 2, "{done:?}");
    // A second Estimate has nothing left to run: the race has stopped, and says how.
    h.get_by_label("Estimate").click();
    h.step();
    assert!(
        h.state()
            .status
            .starts_with("the frontier race has already stopped: undecided after "),
        "{}",
        h.state().status
    );
    // Estimate curve races the chosen allocation's budget curve: one seed at each of its four
    // budgets (the only seed allowed), then it stops and says why.
    let before = h
        .state()
        .store_view
        .as_ref()
        .map_or(0, |v| v.contents.runs.len());
    h.get_by_label("Estimate curve").click();
    h.step();
    run_until_idle(&mut h);
    let status = h.state().status.clone();
    assert!(
        status.starts_with("estimated the budget curve: budget curve"),
        "{status}"
    );
    let after = h
        .state()
        .store_view
        .as_ref()
        .map_or(0, |v| v.contents.runs.len());
    assert!(
        (1..=4).contains(&(after - before)),
        "{before} → {after} runs"
    );
    h.get_by_label("Estimate curve").click();
    h.step();
    assert!(
        h.state()
            .status
            .starts_with("the budget curve's race has already stopped"),
        "{}",
        h.state().status
    );
    // The study report of the store's runs, written where the typed path says.
    let dir = tempdir();
    let out = dir.path().join("report");
    h.state_mut().export_path = out.display().to_string();
    h.get_by_label("Study report…").click();
    h.step();
    run_until_idle(&mut h);
    let status = h.state().status.clone();
    assert!(status.starts_with("study report of"), "{status}");
    let md = std::fs::read_to_string(out.join("report.md")).expect("report.md");
    assert!(md.contains("s="), "{md}");
}

/// Plans, presses Estimate and waits until its first run is in the store.
fn start_estimate_and_wait_for_a_stored_run(h: &mut Harness<'static, SliceplanApp>) {
    make_plan(h);
    h.get_by_label("Estimate").click();
    h.step();
    wait_for(h, "a stored run", |app| {
        app.store_view
            .as_ref()
            .is_some_and(|v| !v.contents.runs.is_empty())
    });
}

#[test]
fn a_cancelled_estimate_keeps_its_finished_runs() {
    let mut h = harness_with(Settings {
        estimate_points: 6,
        ..tiny_estimates()
    });
    run_until_idle(&mut h);
    start_estimate_and_wait_for_a_stored_run(&mut h);
    // The jobs panel says which run of how many.
    let message = h
        .state()
        .status_of_jobs()
        .into_iter()
        .find(|(name, _)| *name == "estimating")
        .map(|(_, m)| m)
        .unwrap_or_default();
    h.get_by_label("Cancel estimating").click();
    run_until_idle(&mut h);
    let status = h.state().status.clone();
    assert!(
        status.starts_with("estimate cancelled; "),
        "{status} ({message})"
    );
    assert!(!status.starts_with("estimate cancelled; 0 "), "{status}");
    assert!(!status.contains("error"), "{status}");
    let kept = h
        .state()
        .store_view
        .as_ref()
        .map_or(0, |v| v.contents.runs.len());
    assert!(kept >= 1);
    assert!(
        h.state()
            .frontier_points()
            .iter()
            .filter(|p| p.done > 0)
            .count()
            >= 1
    );
}

#[test]
fn a_real_nifti_file_opens_by_typed_path_and_at_twice_the_scale() {
    let Some(real) = real_data() else { return };
    let file = real.join("totalseg-ct-small/image.nii.gz");
    let app = SliceplanApp::new(demo::dataset(), Settings::default());
    let mut h = Harness::builder()
        .with_size(egui::vec2(1400.0, 900.0))
        .with_pixels_per_point(2.0)
        .build_ui_state(|ui, app: &mut SliceplanApp| app.show_ui(ui), app);
    run_until_idle(&mut h);
    assert_eq!(h.state().settings.target_label, Some(demo::DEFAULT_TARGET));
    h.state_mut().path_input = file.display().to_string();
    h.get_by_label("Open").click();
    h.step();
    run_until_idle(&mut h);
    let app = h.state();
    assert_eq!(app.dataset.len(), 1, "{}", app.status);
    assert_eq!(app.dataset.id, "image");
    // The demo's spleen (3) means nothing in a file that names no labels: every label.
    assert_eq!(app.settings.target_label, None);
    assert_eq!(
        app.loaded.as_ref().map(|c| c.image.shape),
        Some([122, 101, 30])
    );
    assert_eq!(
        app.settings.recent.first(),
        Some(&file.display().to_string())
    );
    // At 200 % the panels still lay out their controls inside the window.
    let make = h.get_by_label("Make plan");
    let r = make.rect();
    assert!(r.max.x <= 1400.0 && r.max.y <= 900.0, "{r:?}");
    // A file that is not NIfTI is refused with its name.
    let junk = real.join("totalseg-ct-small/case.json");
    h.state_mut().open_path(junk.to_str().unwrap());
    run_until_idle(&mut h);
    let status = h.state().status.clone();
    assert!(
        status.contains("case.json") && status.starts_with("error"),
        "{status}"
    );
}

#[derive(Debug)]
struct Dropped(std::path::PathBuf);

impl egui::DroppedFile for Dropped {
    fn path(&self) -> &std::path::Path {
        &self.0
    }
    fn bytes(&self) -> Result<Vec<u8>, String> {
        std::fs::read(&self.0).map_err(|e| e.to_string())
    }
}

#[test]
fn a_dropped_case_folder_opens() {
    let Some(real) = real_data() else { return };
    let folder = real.join("tptbox-spine-ct");
    let mut h = harness();
    run_until_idle(&mut h);
    h.input_mut()
        .dropped_files
        .push(std::sync::Arc::new(Dropped(folder.clone())));
    h.step();
    run_until_idle(&mut h);
    let app = h.state();
    assert_eq!(app.dataset.len(), 1, "{}", app.status);
    assert!(app.status.starts_with("opened"), "{}", app.status);
    assert!(app.loaded.as_ref().is_some_and(|c| c.labels.is_some()));
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

#[test]
fn closing_the_window_mid_estimate_keeps_every_finished_run() {
    let store_root = tempdir();
    let settings = Settings {
        estimate_points: 6,
        ..tiny_estimates()
    };
    let mut app = SliceplanApp::new(demo::dataset(), settings.clone());
    app.store_dir = Some(store_root.path().to_path_buf());
    let mut h = Harness::builder()
        .with_size(egui::vec2(1400.0, 900.0))
        .build_ui_state(|ui, app: &mut SliceplanApp| app.show_ui(ui), app);
    run_until_idle(&mut h);
    start_estimate_and_wait_for_a_stored_run(&mut h);
    // Closing the window: eframe calls on_exit, which cancels every job; the app goes away
    // while the estimate's thread is mid-run.
    h.state().cancel_all();
    drop(h);
    std::thread::sleep(std::time::Duration::from_secs(2));
    let ds = demo::dataset();
    let store = sliceplan::study::ResultStore::for_dataset_lazily(
        &ds,
        Some(&store_root.path().join("demo")),
    )
    .unwrap();
    let contents = store.load().unwrap();
    assert!(!contents.runs.is_empty());
    assert_eq!(contents.unreadable_lines, 0, "every line is a whole run");
    let kept = contents.runs.len();
    // A new window on the same store estimates only what is missing.
    let mut app = SliceplanApp::new(demo::dataset(), settings);
    app.store_dir = Some(store_root.path().to_path_buf());
    let mut h = Harness::builder()
        .with_size(egui::vec2(1400.0, 900.0))
        .build_ui_state(|ui, app: &mut SliceplanApp| app.show_ui(ui), app);
    run_until_idle(&mut h);
    make_plan(&mut h);
    assert_eq!(
        h.state().store_view.as_ref().map(|v| v.contents.runs.len()),
        Some(kept)
    );
    h.get_by_label("Estimate").click();
    h.step();
    run_until_idle(&mut h);
    let status = h.state().status.clone();
    // The race goes on from the runs kept: "…; N new run(s) stored in …".
    let new: usize = status
        .split("; ")
        .last()
        .and_then(|t| t.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(usize::MAX);
    let total = kept + new;
    assert!(status.starts_with("estimated the frontier"), "{status}");
    assert_eq!(
        h.state().store_view.as_ref().map(|v| v.contents.runs.len()),
        Some(total)
    );
}

#[test]
fn thumbnails_follow_the_plans_plane() {
    let mut h = harness();
    run_until_idle(&mut h);
    let plan = make_plan(&mut h);
    let first = plan.volumes[0].case_id.clone();
    let index = h.state().dataset.case_index(&first).unwrap();
    h.state_mut().select_case(index);
    run_until_idle(&mut h);
    h.step();
    let axial = plan.volumes[0].axis;
    let held = h.state().viewer().thumbnails();
    assert!(!held.is_empty(), "the strip drew its thumbnails");
    assert!(held.iter().all(|(axis, _)| *axis == axial), "{held:?}");
    // Replanned along the coronal plane: the strip shows coronal slices, not the axial
    // thumbnails of the same slice numbers.
    h.state_mut().settings.plane = Plane::Coronal;
    let coronal_plan = make_plan(&mut h);
    let coronal = coronal_plan
        .volume(&first)
        .map(|v| v.axis)
        .expect("the case is still planned");
    assert_ne!(coronal, axial);
    h.step();
    let held = h.state().viewer().thumbnails();
    assert!(!held.is_empty());
    assert!(held.iter().all(|(axis, _)| *axis == coronal), "{held:?}");
}

#[test]
fn the_export_panel_hands_the_plan_off_to_annotators() {
    let mut h = harness();
    run_until_idle(&mut h);
    let plan = make_plan(&mut h);
    let dir = tempdir();
    let out = dir.path().join("handoff");
    h.state_mut().export_path = out.display().to_string();
    h.state_mut().settings.handoff_annotators = 3;
    h.get_by_label("Hand-off…").click();
    h.step();
    run_until_idle(&mut h);
    let status = h.state().status.clone();
    assert!(
        status.starts_with("hand-off for 3 annotator(s)"),
        "{status}"
    );
    let handoff = sliceplan::export::Handoff::load(&out).unwrap();
    assert_eq!(handoff.plan, plan);
    assert_eq!(handoff.split.annotators.len(), 3);
    // A second hand-off into the same folder is refused, and says how to overwrite.
    h.get_by_label("Hand-off…").click();
    h.step();
    run_until_idle(&mut h);
    assert!(
        h.state().status.contains("not empty"),
        "{}",
        h.state().status
    );
    // Read back untouched: nothing done yet, every planned slice missing, the report written.
    h.get_by_label("Read hand-off back…").click();
    h.step();
    run_until_idle(&mut h);
    // A shared case counts once per annotator.
    let shared: usize = handoff
        .split
        .shared
        .iter()
        .map(|c| plan.volume(c).unwrap().slices.len())
        .sum();
    let planned = plan.total_slices() + shared;
    let status = h.state().status.clone();
    assert!(
        status.starts_with(&format!(
            "hand-off: 0 of {planned} planned slices done, 0 absent, {planned} missing"
        )),
        "{status}"
    );
    let report = std::fs::read_to_string(out.join("status.md")).unwrap();
    assert!(report.starts_with("# Hand-off status"), "{report}");
}
