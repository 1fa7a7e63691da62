//! The pipeline's HMI: the pressure profile along the line against each segment's MAOP, with
//! the pump stations, the valves, the tanks and the safety controller's state, drawn on the
//! server as SVG. It shows what the line's devices report (station PLCs and line RTUs at their
//! sites, the safety controller's status registers), never the simulation between them; a
//! site whose device does not answer shows NO VIEW instead.

use report::escape::Escaped;
use std::fmt::Write as _;

use devices::pipeline::PipePlant;
use pipesim::sim::PumpMode;
use range::Range;

const W: f64 = 1000.0;
const H: f64 = 440.0;
const LEFT: f64 = 60.0;
const RIGHT: f64 = 960.0;
const TOP: f64 = 70.0;
const BOTTOM: f64 = 330.0;

/// The profile of the range's pipeline (`None`: the run has no pipeline).
pub fn svg(r: &Range) -> Option<String> {
    r.devices().pipe.as_deref().map(profile)
}

/// The profile of a plant.
pub fn profile(plant: &PipePlant) -> String {
    let sim = &plant.sim;
    let p = sim.pipeline();
    let total_km = p.total_length_m() / 1e3;
    let x_of_joint: Vec<f64> = std::iter::once(0.0)
        .chain(p.segments.iter().scan(0.0, |acc, s| {
            *acc += s.length_m / 1e3;
            Some(*acc)
        }))
        .collect();
    let burst_bar = p.segments.iter().map(|s| s.burst_pa / 1e5).fold(0.0, f64::max);
    let top_bar = (burst_bar / 10.0).ceil() * 10.0;
    let x = |km: f64| LEFT + (RIGHT - LEFT) * km / total_km.max(1e-9);
    let y = |bar: f64| BOTTOM - (BOTTOM - TOP) * bar.clamp(-5.0, top_bar) / top_bar;
    let mut s = String::new();
    let _ = write!(
        s,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {W} {H}\" width=\"{W}\" height=\"{H}\" class=\"line-profile\" font-family=\"sans-serif\" font-size=\"12\">"
    );
    let _ = write!(s, "<title>{}: pressure along the line against MAOP</title>", Escaped(&p.name));
    // Axes: pressure every 10 bar, distance every 20 km.
    let mut bar = 0.0;
    while bar <= top_bar + 1e-9 {
        let _ = write!(
            s,
            "<line x1=\"{LEFT}\" x2=\"{RIGHT}\" y1=\"{0:.1}\" y2=\"{0:.1}\" stroke=\"#ddd\"/><text x=\"{1}\" y=\"{2:.1}\" text-anchor=\"end\">{bar:.0}</text>",
            y(bar),
            LEFT - 6.0,
            y(bar) + 4.0
        );
        bar += 10.0;
    }
    let _ = write!(
        s,
        "<text x=\"14\" y=\"{}\" transform=\"rotate(-90 14 {0})\">bar</text>",
        (TOP + BOTTOM) / 2.0
    );
    let step_km = if total_km > 150.0 { 20.0 } else { 10.0 };
    let mut km = 0.0;
    while km <= total_km + 1e-9 {
        let _ = write!(
            s,
            "<text x=\"{:.1}\" y=\"{}\" text-anchor=\"middle\">{km:.0}</text>",
            x(km),
            BOTTOM + 16.0
        );
        km += step_km;
    }
    let _ = write!(s, "<text x=\"{RIGHT}\" y=\"{}\" text-anchor=\"end\">km</text>", BOTTOM + 30.0);
    // Each segment's MAOP.
    let mut maop = String::new();
    for (k, seg) in p.segments.iter().enumerate() {
        let b = seg.maop_pa / 1e5;
        let _ = write!(maop, "{:.1},{:.1} {:.1},{:.1} ", x(x_of_joint[k]), y(b), x(x_of_joint[k + 1]), y(b));
    }
    let _ = write!(
        s,
        "<polyline data-series=\"maop\" points=\"{}\" fill=\"none\" stroke=\"#c62828\" stroke-width=\"2\" stroke-dasharray=\"6 4\"/>",
        maop.trim_end()
    );
    // Pressures where the line has transmitters: stations (suction, discharge into the line)
    // and valve sites (upstream, downstream), from the sites whose device answers; a dark
    // site shows NO VIEW, never the simulation's value.
    let site_seen = |j: usize| {
        plant.stations.iter().any(|st| st.joint == j && st.state.reachable())
            || plant.rtus.iter().any(|rt| rt.joint == j && rt.state.reachable())
    };
    let dark: Vec<usize> = (0..p.joints.len())
        .filter(|&j| {
            let site =
                plant.stations.iter().any(|st| st.joint == j) || plant.rtus.iter().any(|rt| rt.joint == j);
            site && !site_seen(j)
        })
        .collect();
    for &j in &dark {
        let _ = write!(
            s,
            "<text data-dark-site=\"{j}\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" fill=\"#c62828\">NO VIEW</text>",
            x(x_of_joint[j]),
            TOP + 14.0
        );
    }
    let instrumented: Vec<usize> = (0..p.joints.len()).filter(|&j| site_seen(j)).collect();
    let mut pts = String::new();
    let mut over = false;
    for &j in &instrumented {
        let pr = sim.joint_pressures(j);
        let maop_here =
            p.segments.get(j).or_else(|| p.segments.get(j.wrapping_sub(1))).map_or(f64::MAX, |sg| sg.maop_pa);
        over |= pr[2] > maop_here || pr[0] > maop_here;
        let _ = write!(
            pts,
            "{:.1},{:.1} {:.1},{:.1} ",
            x(x_of_joint[j]),
            y(pr[0] / 1e5),
            x(x_of_joint[j]),
            y(pr[2] / 1e5)
        );
    }
    let _ = write!(
        s,
        "<polyline data-series=\"pressure\" data-points=\"{}\" points=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"2.5\"/>",
        2 * instrumented.len(),
        pts.trim_end(),
        if over { "#c62828" } else { "#1565c0" }
    );
    for &j in &instrumented {
        let pr = sim.joint_pressures(j);
        let _ = write!(
            s,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" fill=\"#1565c0\">{:.1}</text>",
            x(x_of_joint[j]),
            y(pr[2].max(pr[0]) / 1e5) - 6.0,
            pr[2].max(pr[0]) / 1e5
        );
    }
    // Tanks at both ends.
    let _ = write!(
        s,
        "<rect x=\"{}\" y=\"{}\" width=\"36\" height=\"26\" fill=\"#eceff1\" stroke=\"#455a64\"/><text x=\"{}\" y=\"{}\">{}</text>",
        LEFT - 50.0,
        BOTTOM + 40.0,
        LEFT - 50.0,
        BOTTOM + 82.0,
        Escaped(&p.origin.name)
    );
    let _ = write!(
        s,
        "<rect x=\"{}\" y=\"{}\" width=\"36\" height=\"26\" fill=\"#eceff1\" stroke=\"#455a64\"/><text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>",
        RIGHT + 4.0,
        BOTTOM + 40.0,
        RIGHT + 40.0,
        BOTTOM + 82.0,
        Escaped(&p.delivery.name)
    );
    // Stations: a circle per pump (green turning, grey at rest, red tripped by the SIS).
    for st in &plant.stations {
        let cx = x(x_of_joint[st.joint]);
        let permits = sim.sis().is_none_or(|sis| sis.permits(st.joint));
        let seen = st.state.reachable();
        for (i, &k) in st.pumps.iter().enumerate() {
            let ps = sim.pump(k);
            if !seen {
                let _ = write!(
                    s,
                    "<circle data-pump=\"{}\" data-view=\"none\" cx=\"{cx:.1}\" cy=\"{:.1}\" r=\"9\" fill=\"#fff\" stroke=\"#9e9e9e\" stroke-dasharray=\"3 2\"><title>{}: no view</title></circle>",
                    Escaped(&p.pumps[k].name),
                    BOTTOM + 50.0 + 22.0 * i as f64,
                    Escaped(&p.pumps[k].name)
                );
                continue;
            }
            let colour = if !permits {
                "#c62828"
            } else if ps.mode == PumpMode::Running && ps.speed_rpm > 0.0 {
                "#2e7d32"
            } else {
                "#9e9e9e"
            };
            let _ = write!(
                s,
                "<circle data-pump=\"{}\" cx=\"{cx:.1}\" cy=\"{:.1}\" r=\"9\" fill=\"{colour}\" stroke=\"#263238\"><title>{} {:.0} rpm</title></circle>",
                Escaped(&p.pumps[k].name),
                BOTTOM + 50.0 + 22.0 * i as f64,
                Escaped(&p.pumps[k].name),
                ps.speed_rpm
            );
        }
        let _ = write!(
            s,
            "<text x=\"{cx:.1}\" y=\"{}\" text-anchor=\"middle\" font-weight=\"bold\">{}</text>",
            BOTTOM + 36.0,
            Escaped(&st.station)
        );
    }
    // Valves: a bow tie (green open, red closed, amber between).
    for (k, v) in p.valves.iter().enumerate() {
        let Some(j) = p.joints.iter().position(|jt| jt.valves.contains(&k)) else { continue };
        let vx = x(x_of_joint[j]) + if p.joints[j].pumps.is_empty() { 0.0 } else { 14.0 };
        let vy = TOP - 24.0;
        let seen = plant.stations.iter().any(|st| st.valves.contains(&k) && st.state.reachable())
            || plant.rtus.iter().any(|rt| rt.valves.contains(&k) && rt.state.reachable());
        if !seen {
            let _ = write!(
                s,
                "<path data-valve=\"{}\" data-view=\"none\" d=\"M{:.1} {:.1} l14 8 v-16 z M{:.1} {:.1} l-14 8 v-16 z\" fill=\"#fff\" stroke=\"#9e9e9e\" stroke-dasharray=\"3 2\"><title>{}: no view</title></path>",
                Escaped(&v.name),
                vx - 14.0,
                vy,
                vx + 14.0,
                vy,
                Escaped(&v.name)
            );
            continue;
        }
        let open = sim.valve(k).open;
        let colour = if open >= 1.0 {
            "#2e7d32"
        } else if open <= 0.0 {
            "#c62828"
        } else {
            "#f9a825"
        };
        let _ = write!(
            s,
            "<path data-valve=\"{}\" d=\"M{:.1} {:.1} l14 8 v-16 z M{:.1} {:.1} l-14 8 v-16 z\" fill=\"{colour}\" stroke=\"#263238\"><title>{} {:.0} % open</title></path>",
            Escaped(&v.name),
            vx - 14.0,
            vy - 8.0 + 8.0,
            vx + 14.0,
            vy,
            Escaped(&v.name),
            open * 100.0
        );
    }
    // The safety controller and the line's ends.
    let sis_seen = plant.sis.as_ref().is_some_and(|c| c.state.reachable());
    if plant.sis.is_some() && !sis_seen {
        let _ =
            write!(s, "<text data-sis=\"dark\" x=\"{LEFT}\" y=\"18\" fill=\"#c62828\">SIS: NO VIEW</text>");
    }
    if let Some(sis) = sim.sis().filter(|_| sis_seen) {
        let tripped: Vec<&str> = (0..sis.functions().len())
            .filter(|&i| sis.tripped(i))
            .map(|i| sis.functions()[i].tag.as_str())
            .collect();
        let bypassed: Vec<&str> = (0..sis.functions().len())
            .filter(|&i| sis.bypassed(i))
            .map(|i| sis.functions()[i].tag.as_str())
            .collect();
        let changed = sis.checksum() != sis.commissioned_checksum();
        let alarm = sis.key() != pipesim::sis::KeySwitch::Run || changed || sis.faulted().is_some();
        let _ = write!(
            s,
            "<text data-sis=\"{}\" x=\"{LEFT}\" y=\"18\" fill=\"{}\">SIS key {} · program CRC {:08x}{} · {} · tripped: {} · bypassed: {}</text>",
            sis.key().name(),
            if alarm { "#c62828" } else { "#263238" },
            sis.key().name(),
            sis.checksum(),
            if changed { " (not the commissioned one)" } else { "" },
            if sis.faulted().is_some() { "FAULTED" } else { "running" },
            if tripped.is_empty() { "none".to_string() } else { Escaped(&tripped.join(", ")).to_string() },
            if bypassed.is_empty() { "none".to_string() } else { Escaped(&bypassed.join(", ")).to_string() }
        );
    }
    let _ = write!(
        s,
        "<text x=\"{RIGHT}\" y=\"36\" text-anchor=\"end\">in {:.0} m³/h · out {:.0} m³/h · MAOP dashed red</text>",
        sim.joint(0).flow_m3_s * 3600.0,
        sim.joint(p.segments.len()).flow_m3_s * 3600.0
    );
    s.push_str("</svg>");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_profile_shows_the_line_its_maop_and_its_safety_system() {
        let text = exercise::catalogue::exercise("triton2017").unwrap_or_default();
        let ex = exercise::load(text, &exercise::catalogue::Builtin).expect("the exercise loads");
        let grid = exercise::build_grid(&exercise::catalogue::Builtin, &ex.grid).expect("its grid");
        let mut r = Range::new(ex, grid, range::RunConfig::new(1, "none", Vec::new())).expect("a range");
        while r.time() < gridsim::sim::SimTime::from_secs(60.0) {
            r.step();
        }
        let svg = svg(&r).expect("a pipeline");
        let plant = r.devices().pipe.as_deref().expect("its plant");
        // Two points per instrumented site: three stations and four valve sites.
        let sites = plant.stations.len() + plant.rtus.len();
        assert_eq!(sites, 7);
        let pressure = svg.split("data-series=\"pressure\"").nth(1).expect("the pressure line");
        assert!(pressure.starts_with(&format!(" data-points=\"{}\"", 2 * sites)), "{pressure:.80}");
        let points = pressure.split("points=\"").nth(2).and_then(|p| p.split('"').next()).unwrap_or_default();
        assert_eq!(points.split(' ').count(), 2 * sites);
        // MAOP: one level per segment, two vertices each.
        let maop = svg
            .split("data-series=\"maop\" points=\"")
            .nth(1)
            .and_then(|p| p.split('"').next())
            .unwrap_or_default();
        assert_eq!(maop.split(' ').count(), 2 * 20);
        for name in ["PS1", "PS2", "PS3", "P-101", "BV-2", "PCV-401", "XV-201"] {
            assert!(svg.contains(name), "{name}");
        }
        // The key was left at PROGRAM: the SIS line says so, in red.
        assert!(
            svg.contains("data-sis=\"PROGRAM\"") && svg.contains("#c62828\">SIS key PROGRAM"),
            "{svg:.300}"
        );
        assert!(!svg.contains("<script"));
        let p201 = svg
            .split("data-pump=\"P-201\"")
            .nth(1)
            .and_then(|c| c.split("</circle>").next())
            .unwrap_or_default();
        assert!(p201.contains("fill=\"#2e7d32\""), "P-201 turns: {p201}");
        assert!(!svg.contains("NO VIEW") && !svg.contains("data-view=\"none\""), "every site answers");
    }

    /// L5: a site whose device does not answer shows no pressure, pump or valve state, only
    /// NO VIEW (the display never shows the simulation between the devices).
    #[test]
    fn a_dark_site_shows_no_view_not_the_simulation() {
        let text = exercise::catalogue::exercise("triton2017").unwrap_or_default();
        let ex = exercise::load(text, &exercise::catalogue::Builtin).expect("the exercise loads");
        let grid = exercise::build_grid(&exercise::catalogue::Builtin, &ex.grid).expect("its grid");
        let r = Range::new(ex, grid, range::RunConfig::new(1, "none", Vec::new())).expect("a range");
        let mut plant = r.devices().pipe.as_deref().expect("its plant").clone();
        let all = 2 * (plant.stations.len() + plant.rtus.len());
        plant.stations[1].state.powered = false;
        let dark_joint = plant.stations[1].joint;
        let pumps: Vec<String> =
            plant.stations[1].pumps.iter().map(|&k| plant.sim.pipeline().pumps[k].name.clone()).collect();
        let svg = profile(&plant);
        assert!(svg.contains(&format!("data-dark-site=\"{dark_joint}\"")), "{svg:.400}");
        let pressure = svg.split("data-series=\"pressure\"").nth(1).expect("the pressure line");
        assert!(pressure.starts_with(&format!(" data-points=\"{}\"", all - 2)), "{pressure:.80}");
        for name in pumps {
            let circle = svg
                .split(&format!("data-pump=\"{name}\""))
                .nth(1)
                .and_then(|c| c.split("</circle>").next())
                .unwrap_or_default();
            assert!(circle.contains("data-view=\"none\"") && circle.contains("no view"), "{name}: {circle}");
        }
    }
}
