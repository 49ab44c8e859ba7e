//! A run's pictures from `metrics.jsonl`, as SVG: the loss curve (training loss per step and
//! validation loss at each evaluation), and for RLHF runs reward hacking (`reward_hacking`).

use crate::metrics::Record;
use crate::Error;
use plotters::prelude::*;
use std::path::Path;

/// Draws `records` into `out` (SVG).
pub fn loss_curve(records: &[Record], title: &str, out: &Path) -> Result<(), Error> {
    let train: Vec<(f64, f64)> = records
        .iter()
        .filter_map(|r| if let Record::Step { step, loss, .. } = r { Some((*step as f64, *loss as f64)) } else { None })
        .collect();
    let val: Vec<(f64, f64)> = records
        .iter()
        .filter_map(|r| {
            if let Record::Eval { step, val_loss, .. } = r {
                Some((*step as f64, *val_loss as f64))
            } else {
                None
            }
        })
        .collect();
    if train.is_empty() && val.is_empty() {
        return Err(Error::Data("no losses to plot yet".into()));
    }
    let all = train.iter().chain(&val);
    let x_max = all.clone().map(|p| p.0).fold(1.0, f64::max);
    let y_max = all.clone().map(|p| p.1).filter(|y| y.is_finite()).fold(0.0, f64::max) * 1.05;
    let y_min = all.map(|p| p.1).filter(|y| y.is_finite()).fold(f64::INFINITY, f64::min).min(y_max) * 0.95;
    let draw = |e: &dyn std::fmt::Display| Error::Data(format!("{}: drawing failed: {e}", out.display()));
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (900, 540)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| draw(&e))?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 22))
            .margin(16)
            .x_label_area_size(44)
            .y_label_area_size(56)
            .build_cartesian_2d(0.0..x_max, y_min..y_max)
            .map_err(|e| draw(&e))?;
        chart.configure_mesh().x_desc("step").y_desc("loss (nats/token)").draw().map_err(|e| draw(&e))?;
        chart
            .draw_series(LineSeries::new(train, &BLUE))
            .map_err(|e| draw(&e))?
            .label("train")
            .legend(|(x, y)| PathElement::new([(x, y), (x + 18, y)], BLUE));
        chart
            .draw_series(LineSeries::new(val.clone(), RED.stroke_width(2)))
            .map_err(|e| draw(&e))?
            .label("validation")
            .legend(|(x, y)| PathElement::new([(x, y), (x + 18, y)], RED));
        chart.draw_series(val.iter().map(|&p| Circle::new(p, 3, RED.filled()))).map_err(|e| draw(&e))?;
        chart.configure_series_labels().border_style(BLACK).background_style(WHITE).draw().map_err(|e| draw(&e))?;
        root.present().map_err(|e| draw(&e))?;
    }
    Ok(minichat_corpus::atomic_write(out, svg.as_bytes())?)
}

/// Steps averaged in the reward-hacking picture's trend lines (a step's rewards come from a
/// handful of questions, so single steps are noisy).
const TREND: usize = 10;

/// A run's colour in the reward-hacking picture, in order.
const PALETTE: [RGBColor; 4] = [BLUE, RED, RGBColor(0, 150, 0), RGBColor(200, 120, 0)];

/// One run's steps in the reward-hacking picture: (step, KL, proxy, gold).
type Point = (u64, f64, f64, f64);

/// Reward hacking as Gao et al. (2022) plot it: the reward RL optimises (a reward model's
/// score, the proxy) and the gold score it stands in for (the task checker's), each against
/// the KL from the starting model (`Record::Rollouts` with a gold score), as two panels side by
/// side: each step a faint point, the trailing mean of `TREND` steps a line, and on the gold
/// panel the held-out pass@1 at each evaluation (`Record::Heldout`) as large points. Several
/// runs (`runs`: a name and its records each) share the panels, a colour each, so that runs
/// with and without a KL penalty can be compared. Drawn into `out` (SVG).
pub fn reward_hacking(runs: &[(String, Vec<Record>)], title: &str, out: &Path) -> Result<(), Error> {
    let mut drawn = Vec::new();
    for (name, records) in runs {
        let points = gold_points(records);
        if points.is_empty() {
            return Err(Error::Data(format!("{name}: no steps with a gold score to plot (not an RLHF run?)")));
        }
        let trend = trend(&points);
        let kl_at = |step: u64| trend.iter().rev().find(|p| p.0 <= step).map_or(0.0, |p| p.1);
        let heldout: Vec<(f64, f64)> = records
            .iter()
            .filter_map(|r| match r {
                Record::Heldout { step, pass_at_1, .. } => Some((kl_at(*step), *pass_at_1 as f64)),
                _ => None,
            })
            .collect();
        drawn.push((name, points, trend, heldout));
    }
    let draw = |e: &dyn std::fmt::Display| Error::Data(format!("{}: drawing failed: {e}", out.display()));
    let x_max = drawn.iter().flat_map(|d| &d.1).map(|p| p.1).fold(1e-6, f64::max) * 1.05;
    let range = |v: Vec<f64>| {
        let (lo, hi) =
            (v.iter().copied().fold(f64::INFINITY, f64::min), v.iter().copied().fold(f64::NEG_INFINITY, f64::max));
        let pad = ((hi - lo) * 0.08).max(1e-3);
        (lo - pad)..(hi + pad)
    };
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (1100, 480)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| draw(&e))?;
        let root = root.titled(title, ("sans-serif", 22)).map_err(|e| draw(&e))?;
        let panels = root.split_evenly((1, 2));
        let captions = [
            "proxy: the reward model's score (what RL maximises)",
            "gold: right answers (what the proxy stands in for)",
        ];
        for (panel, (which, caption)) in panels.iter().zip(captions.into_iter().enumerate()) {
            let value = |p: &Point| if which == 0 { p.2 } else { p.3 };
            let ys = drawn
                .iter()
                .flat_map(|d| d.1.iter().map(value).chain(d.3.iter().filter(|_| which == 1).map(|h| h.1)))
                .collect();
            let mut chart = ChartBuilder::on(panel)
                .caption(caption, ("sans-serif", 15))
                .margin(14)
                .x_label_area_size(44)
                .y_label_area_size(56)
                .build_cartesian_2d(0.0..x_max, range(ys))
                .map_err(|e| draw(&e))?;
            chart
                .configure_mesh()
                .x_desc("KL to the starting model (nats per token)")
                .y_desc("mean reward of a step's replies")
                .draw()
                .map_err(|e| draw(&e))?;
            for (i, (name, points, trend, heldout)) in drawn.iter().enumerate() {
                let color = PALETTE[i % PALETTE.len()];
                let named = |what: &str| if runs.len() > 1 { format!("{name}: {what}") } else { what.to_string() };
                let raw = points.iter().map(|p| Circle::new((p.1, value(p)), 2, color.mix(0.3).filled()));
                chart.draw_series(raw).map_err(|e| draw(&e))?;
                chart
                    .draw_series(LineSeries::new(trend.iter().map(|p| (p.1, value(p))), color.stroke_width(2)))
                    .map_err(|e| draw(&e))?
                    .label(named(&format!("mean of {TREND} steps")))
                    .legend(move |(x, y)| PathElement::new([(x, y), (x + 18, y)], color));
                if which == 1 && !heldout.is_empty() {
                    chart
                        .draw_series(heldout.iter().map(|&p| Circle::new(p, 6, color.filled())))
                        .map_err(|e| draw(&e))?
                        .label(named("held-out pass@1"))
                        .legend(move |(x, y)| Circle::new((x + 9, y), 5, color.filled()));
                }
            }
            chart.configure_series_labels().border_style(BLACK).background_style(WHITE).draw().map_err(|e| draw(&e))?;
        }
        root.present().map_err(|e| draw(&e))?;
    }
    Ok(minichat_corpus::atomic_write(out, svg.as_bytes())?)
}

/// The steps of an RLHF run that have a gold score, as (step, KL, proxy, gold).
fn gold_points(records: &[Record]) -> Vec<Point> {
    records
        .iter()
        .filter_map(|r| match r {
            Record::Rollouts { step, kl, reward, gold: Some(gold), .. } => {
                Some((*step, *kl as f64, *reward as f64, *gold as f64))
            }
            _ => None,
        })
        .filter(|p| p.1.is_finite() && p.2.is_finite() && p.3.is_finite())
        .collect()
}

/// Trailing means over `TREND` steps of KL, proxy and gold, at each step.
fn trend(points: &[Point]) -> Vec<Point> {
    (0..points.len())
        .map(|i| {
            let w = &points[i.saturating_sub(TREND - 1)..=i];
            let mean = |f: fn(&Point) -> f64| w.iter().map(f).sum::<f64>() / w.len() as f64;
            (points[i].0, mean(|p| p.1), mean(|p| p.2), mean(|p| p.3))
        })
        .collect()
}
