//! The report card: the exam's results of several runs side by side, as a markdown table and
//! a bar chart of the accuracies (SVG), written to `DIR/report.md` and `DIR/report.svg`.

use crate::Error;
use std::path::Path;

/// One line of the report: a metric and its value per run (None: not measured).
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    pub name: String,
    /// Accuracy in [0, 1], or a number such as bits per byte.
    pub values: Vec<Option<f64>>,
    pub accuracy: bool,
}

/// The results of several runs, row by row in the order they were first set.
#[derive(Clone, Debug, PartialEq)]
pub struct ReportCard {
    pub runs: Vec<String>,
    pub rows: Vec<Row>,
}

impl ReportCard {
    pub fn new(runs: Vec<String>) -> ReportCard {
        ReportCard { runs, rows: Vec::new() }
    }

    /// Sets run `run`'s value of the row `name` (made on first use).
    pub fn set(&mut self, run: usize, name: &str, accuracy: bool, value: Option<f64>) {
        let i = match self.rows.iter().position(|r| r.name == name) {
            Some(i) => i,
            None => {
                self.rows.push(Row { name: name.to_string(), values: vec![None; self.runs.len()], accuracy });
                self.rows.len() - 1
            }
        };
        self.rows[i].values[run] = value;
    }

    /// The markdown table: accuracies in percent, other numbers to 4 decimals.
    pub fn markdown(&self) -> String {
        let runs = &self.runs;
        let mut out = format!("| | {} |\n|---|{}\n", runs.join(" | "), "---|".repeat(runs.len()));
        for r in &self.rows {
            let cells: Vec<String> = r
                .values
                .iter()
                .map(|v| match (v, r.accuracy) {
                    (None, _) => "n/a".into(),
                    (Some(x), true) => format!("{:.1}%", 100.0 * x),
                    (Some(x), false) => format!("{x:.4}"),
                })
                .collect();
            out.push_str(&format!("| {} | {} |\n", r.name, cells.join(" | ")));
        }
        out
    }

    /// Accuracy rows as grouped horizontal bars, one colour per run.
    pub fn svg(&self) -> String {
        const COLOURS: [&str; 4] = ["#8da0cb", "#fc8d62", "#66c2a5", "#e78ac3"];
        let runs = &self.runs;
        let rows: Vec<&Row> = self.rows.iter().filter(|r| r.accuracy).collect();
        let (label_w, bar_w, bar_h) = (260.0, 400.0, 14.0);
        let group_h = bar_h * runs.len() as f64 + 12.0;
        let height = 40.0 + group_h * rows.len() as f64 + 20.0 * runs.len() as f64;
        let mut s = format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{height}\" font-family=\"sans-serif\" font-size=\"12\">\n\
             <text x=\"10\" y=\"20\" font-size=\"14\">Report card: accuracy (%)</text>\n",
            label_w + bar_w + 60.0
        );
        let esc = |t: &str| t.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;");
        for (i, r) in rows.iter().enumerate() {
            let y0 = 35.0 + group_h * i as f64;
            s.push_str(&format!("<text x=\"10\" y=\"{}\">{}</text>\n", y0 + bar_h, esc(&r.name)));
            for (j, v) in r.values.iter().enumerate() {
                let y = y0 + bar_h * j as f64;
                let x = v.unwrap_or(0.0);
                s.push_str(&format!(
                    "<rect x=\"{label_w}\" y=\"{y}\" width=\"{:.1}\" height=\"{}\" fill=\"{}\"/><text x=\"{:.1}\" y=\"{}\">{}</text>\n",
                    bar_w * x,
                    bar_h - 2.0,
                    COLOURS[j % COLOURS.len()],
                    label_w + bar_w * x + 4.0,
                    y + bar_h - 3.0,
                    v.map_or("n/a".into(), |x| format!("{:.1}", 100.0 * x))
                ));
            }
        }
        let legend_y = 40.0 + group_h * rows.len() as f64;
        for (j, run) in runs.iter().enumerate() {
            let y = legend_y + 20.0 * j as f64;
            s.push_str(&format!(
                "<rect x=\"10\" y=\"{y}\" width=\"12\" height=\"12\" fill=\"{}\"/><text x=\"28\" y=\"{}\">{}</text>\n",
                COLOURS[j % COLOURS.len()],
                y + 11.0,
                esc(run)
            ));
        }
        s.push_str("</svg>\n");
        s
    }

    /// Writes `dir/report.md` and `dir/report.svg` (atomically).
    pub fn write(&self, dir: &Path) -> Result<(), Error> {
        minichat_corpus::atomic_write(
            &dir.join("report.md"),
            format!("# Report card\n\n{}", self.markdown()).as_bytes(),
        )?;
        minichat_corpus::atomic_write(&dir.join("report.svg"), self.svg().as_bytes())?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_keep_their_first_order_and_cells_their_kind() {
        let mut card = ReportCard::new(vec!["base".into(), "chat<1>".into()]);
        card.set(0, "bits per byte", false, Some(2.12345));
        card.set(1, "identity", true, Some(0.75));
        card.set(0, "identity", true, None);
        card.set(1, "bits per byte", false, Some(4.0));
        let md = card.markdown();
        assert_eq!(md.lines().nth(2), Some("| bits per byte | 2.1235 | 4.0000 |"));
        assert_eq!(md.lines().nth(3), Some("| identity | n/a | 75.0% |"));
        let svg = card.svg();
        assert!(svg.starts_with("<svg") && svg.contains("chat&lt;1&gt;") && !svg.contains("bits per byte"));
    }
}
