//! The cohort: the teams side by side, the steps no team detected, and the recommendations
//! for the gaps found.

use std::collections::BTreeMap;

use exercise::Exercise;

use crate::*;

pub(crate) fn cohort(ex: &Exercise, teams: &[TeamReport]) -> Cohort {
    let wire_steps: Vec<&exercise::Step> = ex.attack.iter().filter(|s| s.action.on_wire()).collect();
    let rows = teams
        .iter()
        .map(|t| CohortRow {
            team: t.team.clone(),
            total: t.score.total,
            components: t.score.components.iter().map(|c| (c.name.clone(), c.points)).collect(),
            penalty_points: t.score.penalty_points,
            ens_mwh: t.figures.ens_mwh.value.unwrap_or(0.0),
            customers_off_peak: t.figures.customers_off_peak.value.unwrap_or(0.0),
            restored_at_s: t.figures.restored_at_s.value,
            time_to_detect_s: wire_steps
                .iter()
                .map(|s| {
                    let d = t.steps.iter().find(|r| r.step == s.id).and_then(|r| r.detected.as_ref());
                    (s.id.clone(), d.and_then(|d| d.noticed_after_s))
                })
                .collect(),
        })
        .collect();
    let undetected = wire_steps
        .iter()
        .filter(|s| {
            let began: Vec<&StepReport> = teams
                .iter()
                .filter_map(|t| t.steps.iter().find(|r| r.step == s.id && r.began_s.is_some()))
                .collect();
            !began.is_empty() && began.iter().all(|r| r.detected.is_none())
        })
        .map(|s| s.id.clone())
        .collect();
    // Gaps: a step that began and was not detected (on the wire), or not contained.
    let mut recs: BTreeMap<&'static str, Vec<Trigger>> = BTreeMap::new();
    let mut unmapped: Vec<Trigger> = Vec::new();
    for t in teams {
        for r in t.steps.iter().filter(|r| r.began_s.is_some()) {
            let mut gaps = Vec::new();
            if r.on_wire && r.detected.is_none() {
                gaps.push("not detected");
            }
            if r.contained.is_none() {
                gaps.push("not contained");
            }
            for gap in gaps {
                for tech in &r.techniques {
                    if mitigations::direct(tech).next().is_none() {
                        unmapped.push(Trigger {
                            team: t.team.clone(),
                            step: r.step.clone(),
                            technique: tech.clone(),
                            gap,
                            source: r.source.clone(),
                        });
                    }
                    for m in mitigations::direct(tech) {
                        let list = recs.entry(m).or_default();
                        // One trigger per gap: a step's techniques (an id and its v19
                        // successor, say) that call for the same mitigation are listed together.
                        match list.last_mut() {
                            Some(last) if last.team == t.team && last.step == r.step && last.gap == gap => {
                                last.technique = format!("{}, {tech}", last.technique);
                            }
                            _ => list.push(Trigger {
                                team: t.team.clone(),
                                step: r.step.clone(),
                                technique: tech.clone(),
                                gap,
                                source: r.source.clone(),
                            }),
                        }
                    }
                }
            }
        }
    }
    let mut recommendations: Vec<Recommendation> = recs
        .into_iter()
        .filter_map(|(id, triggers)| {
            let m = mitigations::mitigation(id)?;
            Some(Recommendation {
                mitigation: id.to_string(),
                name: m.name.to_string(),
                description: m.description.to_string(),
                triggers,
            })
        })
        .collect();
    // The mitigations that answer the most gaps first (then by id, as the map gave them).
    recommendations.sort_by_key(|r| std::cmp::Reverse(r.triggers.len()));
    Cohort { teams: rows, undetected, recommendations, unmapped }
}
