//! Prints a pipeline's steady state and runs it for a while: `cargo run -p pipesim --example steady FILE [SECONDS]`.
#![allow(clippy::unwrap_used)]
fn main() {
    let args: Vec<String> = std::env::args().collect();
    let text = std::fs::read_to_string(&args[1]).unwrap();
    let p = pipesim::file::parse(&text).unwrap_or_else(|e| panic!("{e}"));
    let secs: f64 = args.get(2).map_or(60.0, |s| s.parse().unwrap());
    let mut sim = pipesim::Sim::new(p, Default::default());
    println!("dt {:?} reaches {:?} nodes {}", sim.dt(), sim.reaches(), sim.nodes());
    for j in 0..sim.pipeline().joints.len() {
        let pr = sim.joint_pressures(j);
        println!(
            "joint {} q {:.1} m3/h p {:.2} {:.2} {:.2} bar",
            sim.pipeline().joints[j].name,
            sim.joint(j).flow_m3_s * 3600.0,
            pr[0] / 1e5,
            pr[1] / 1e5,
            pr[2] / 1e5
        );
    }
    sim.step(pipesim::SimTime::from_secs(secs));
    for e in sim.take_events() {
        println!("{e:?}");
    }
    for j in 0..sim.pipeline().joints.len() {
        let pr = sim.joint_pressures(j);
        println!(
            "joint {} q {:.1} m3/h p {:.2} {:.2} {:.2} bar",
            sim.pipeline().joints[j].name,
            sim.joint(j).flow_m3_s * 3600.0,
            pr[0] / 1e5,
            pr[1] / 1e5,
            pr[2] / 1e5
        );
    }
    println!("peak {:?}", sim.peak_pressures().iter().map(|p| (p / 1e4).round() / 10.0).collect::<Vec<_>>());
    println!("{:?} {:?}", sim.totals(), sim.cpm_status());
}
