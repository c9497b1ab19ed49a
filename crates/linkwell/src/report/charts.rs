//! The report's charts, drawn with `plotters` into SVG strings that are
//! inlined in the page. Text is left to the browser's fonts (no font files
//! are read or embedded).

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::suppress::Count;
use super::ReportError;

const WIDTH: u32 = 900;
const FONT: &str = "sans-serif";
const BLUE: RGBColor = RGBColor(31, 119, 180);
const ORANGE: RGBColor = RGBColor(230, 120, 20);
const GREEN: RGBColor = RGBColor(44, 160, 44);
const RED_: RGBColor = RGBColor(200, 30, 30);
const GREY: RGBColor = RGBColor(170, 170, 170);
const PALETTE: [RGBColor; 6] = [
    BLUE,
    ORANGE,
    GREEN,
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
];

/// The colour of series `i`.
pub(crate) fn colour(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

fn fail<E: std::fmt::Display>(chart: &'static str) -> impl Fn(E) -> ReportError {
    move |e| ReportError::Chart {
        chart,
        message: e.to_string(),
    }
}

/// The legend every chart draws: a white box with a grey border.
fn legend<'a, DB: DrawingBackend + 'a, CT: CoordTranslate>(
    chart: &mut ChartContext<'a, DB, CT>,
    position: SeriesLabelPosition,
    name: &'static str,
) -> Result<(), ReportError> {
    chart
        .configure_series_labels()
        .position(position)
        .background_style(WHITE.mix(0.9))
        .border_style(GREY)
        .label_font((FONT, 13))
        .draw()
        .map_err(fail(name))
}

/// Draws into a fresh SVG of `WIDTH × height` and returns it.
fn svg(
    chart: &'static str,
    height: u32,
    draw: impl FnOnce(&DrawingArea<SVGBackend<'_>, Shift>) -> Result<(), ReportError>,
) -> Result<String, ReportError> {
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, (WIDTH, height)).into_drawing_area();
        root.fill(&WHITE).map_err(fail(chart))?;
        draw(&root)?;
        root.present().map_err(fail(chart))?;
    }
    Ok(out)
}

/// A power of ten at or below `v` (for log axes).
fn floor_pow10(v: f64) -> f64 {
    10f64.powf(v.max(1e-300).log10().floor())
}

/// A power of ten at or above `v`.
fn ceil_pow10(v: f64) -> f64 {
    10f64.powf(v.max(1e-300).log10().ceil())
}

/// A label cut to fit the label area.
fn fit(label: &str) -> String {
    const MAX: usize = 40;
    if label.chars().count() <= MAX {
        label.to_string()
    } else {
        let mut s: String = label.chars().take(MAX - 1).collect();
        s.push('…');
        s
    }
}

fn label_text(size: u32) -> TextStyle<'static> {
    (FONT, size)
        .into_font()
        .color(&BLACK)
        .pos(Pos::new(HPos::Right, VPos::Center))
}

/// Weight histogram: pairs per bin on a log scale, suppressed bins drawn
/// in grey up to the threshold they are below, the link threshold marked.
pub(crate) fn weight_histogram(
    bins: &[(f64, f64, Count)],
    threshold: Option<f64>,
) -> Result<String, ReportError> {
    const NAME: &str = "weight histogram";
    let (x0, x1) = match (bins.first(), bins.last()) {
        (Some(a), Some(b)) => (
            a.0.min(threshold.unwrap_or(a.0)) - 1.0,
            b.1.max(threshold.unwrap_or(b.1)) + 1.0,
        ),
        _ => (-1.0, 1.0),
    };
    let ymax = bins
        .iter()
        .map(|b| b.2.plot_height())
        .max()
        .unwrap_or(1)
        .max(10) as f64;
    // A decade of headroom for the legend.
    let ymax = ceil_pow10(ymax) * 10.0;
    svg(NAME, 420, |root| {
        let mut chart = ChartBuilder::on(root)
            .margin(12)
            .caption(
                "Match weight of every candidate pair",
                (FONT, 18).into_font(),
            )
            .x_label_area_size(45)
            .y_label_area_size(70)
            .build_cartesian_2d(x0..x1, (1f64..ymax).log_scale())
            .map_err(fail(NAME))?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_desc("match weight (log2 Bayes factor)")
            .y_desc("candidate pairs (log scale)")
            .y_label_formatter(&|v| format_pow(*v))
            .label_style((FONT, 13))
            .draw()
            .map_err(fail(NAME))?;
        chart
            .draw_series(bins.iter().filter_map(|&(a, b, c)| match c {
                Count::Value(v) if v >= 1 => Some(Rectangle::new(
                    [(a, 1.0), (b, v as f64)],
                    BLUE.mix(0.8).filled(),
                )),
                _ => None,
            }))
            .map_err(fail(NAME))?
            .label("pairs")
            .legend(|(x, y)| Rectangle::new([(x, y - 5), (x + 14, y + 5)], BLUE.mix(0.8).filled()));
        if bins.iter().any(|b| matches!(b.2, Count::Below(_))) {
            chart
                .draw_series(bins.iter().filter_map(|&(a, b, c)| match c {
                    Count::Below(t) => Some(Rectangle::new(
                        [(a, 1.0), (b, t as f64)],
                        GREY.mix(0.6).filled(),
                    )),
                    _ => None,
                }))
                .map_err(fail(NAME))?
                .label("fewer than 10 (suppressed)")
                .legend(|(x, y)| {
                    Rectangle::new([(x, y - 5), (x + 14, y + 5)], GREY.mix(0.6).filled())
                });
        }
        if let Some(t) = threshold {
            chart
                .draw_series(LineSeries::new([(t, 1.0), (t, ymax)], RED_.stroke_width(2)))
                .map_err(fail(NAME))?
                .label(format!("link threshold (weight {t:.2})"))
                .legend(|(x, y)| PathElement::new([(x, y), (x + 14, y)], RED_.stroke_width(2)));
        }
        legend(&mut chart, SeriesLabelPosition::UpperLeft, NAME)?;
        Ok(())
    })
}

/// An axis label in percent, with a decimal when the axis spans less
/// than 20 points.
fn pct_label(v: f64, span: f64) -> String {
    if span < 0.2 {
        format!("{:.1}%", v * 100.0)
    } else {
        format!("{:.0}%", v * 100.0)
    }
}

fn format_pow(v: f64) -> String {
    if (1.0..1e6).contains(&v) {
        format!("{v:.0}")
    } else {
        format!("{v:.0e}")
    }
}

/// One row of the m/u chart: a label and the two probabilities.
pub(crate) struct MuRow {
    /// `comparison: level`.
    pub label: String,
    /// P(level | match).
    pub m: f64,
    /// P(level | non-match).
    pub u: f64,
    /// Whether a new comparison starts here (a separator is drawn).
    pub first_of_comparison: bool,
}

/// m and u per comparison level on a log scale: one row per level, a
/// circle for m and a square for u, joined by a line whose length is the
/// level's weight.
pub(crate) fn m_u(rows: &[MuRow]) -> Result<String, ReportError> {
    const NAME: &str = "m and u";
    let n = rows.len().max(1);
    let lo = rows
        .iter()
        .flat_map(|r| [r.m, r.u])
        .filter(|v| *v > 0.0)
        .fold(1.0f64, f64::min);
    let lo = floor_pow10(lo.max(1e-12)) / 10.0;
    let height = 110 + 20 * n as u32;
    svg(NAME, height, |root| {
        let mut chart = ChartBuilder::on(root)
            .margin(12)
            .caption(
                "m and u probabilities per comparison level",
                (FONT, 18).into_font(),
            )
            .x_label_area_size(45)
            .y_label_area_size(260)
            .build_cartesian_2d((lo..1.5f64).log_scale(), 0f64..n as f64)
            .map_err(fail(NAME))?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .y_labels(0)
            .x_desc("probability (log scale)")
            .x_label_formatter(&|v| format!("{v:.0e}"))
            .label_style((FONT, 13))
            .draw()
            .map_err(fail(NAME))?;
        let y = |i: usize| (n - i) as f64 - 0.5;
        for (i, r) in rows.iter().enumerate() {
            if r.first_of_comparison && i > 0 {
                chart
                    .draw_series(LineSeries::new(
                        [(lo, (n - i) as f64), (1.5, (n - i) as f64)],
                        GREY.mix(0.5),
                    ))
                    .map_err(fail(NAME))?;
            }
            let (m, u) = (r.m.max(lo), r.u.max(lo));
            chart
                .draw_series(LineSeries::new(
                    [(m, y(i)), (u, y(i))],
                    GREY.stroke_width(2),
                ))
                .map_err(fail(NAME))?;
            let (px, py) = chart.backend_coord(&(lo, y(i)));
            root.draw(&Text::new(fit(&r.label), (px - 8, py), label_text(13)))
                .map_err(fail(NAME))?;
        }
        chart
            .draw_series(
                rows.iter()
                    .enumerate()
                    .map(|(i, r)| Circle::new((r.m.max(lo), y(i)), 5, BLUE.filled())),
            )
            .map_err(fail(NAME))?
            .label("m: P(level | same person)")
            .legend(|(x, y)| Circle::new((x + 7, y), 5, BLUE.filled()));
        chart
            .draw_series(rows.iter().enumerate().map(|(i, r)| {
                let (px, py) = (r.u.max(lo), y(i));
                EmptyElement::at((px, py)) + Rectangle::new([(-5, -5), (5, 5)], ORANGE.filled())
            }))
            .map_err(fail(NAME))?
            .label("u: P(level | different people)")
            .legend(|(x, y)| Rectangle::new([(x + 2, y - 5), (x + 12, y + 5)], ORANGE.filled()));
        legend(&mut chart, SeriesLabelPosition::LowerLeft, NAME)?;
        Ok(())
    })
}

/// EM convergence: the largest change of any m per iteration, one line
/// per training session, log scale, the tolerance dashed.
pub(crate) fn em(
    sessions: &[(String, Vec<(u32, f64)>)],
    tolerance: Option<f64>,
) -> Result<String, ReportError> {
    const NAME: &str = "EM convergence";
    let all = sessions.iter().flat_map(|s| s.1.iter());
    let max_it = all.clone().map(|p| p.0).max().unwrap_or(1).max(2);
    let vals: Vec<f64> = all
        .map(|p| p.1)
        .chain(tolerance)
        .filter(|v| *v > 0.0)
        .collect();
    let lo = floor_pow10(vals.iter().copied().fold(1.0, f64::min).max(1e-15));
    let hi = ceil_pow10(vals.iter().copied().fold(lo * 10.0, f64::max));
    svg(NAME, 380, |root| {
        let mut chart = ChartBuilder::on(root)
            .margin(12)
            .caption(
                "EM convergence per training session",
                (FONT, 18).into_font(),
            )
            .x_label_area_size(45)
            .y_label_area_size(70)
            .build_cartesian_2d(0.5f64..max_it as f64 + 0.5, (lo..hi).log_scale())
            .map_err(fail(NAME))?;
        chart
            .configure_mesh()
            .x_desc("iteration")
            .y_desc("largest change of any m (log scale)")
            .x_label_formatter(&|v| format!("{v:.0}"))
            .y_label_formatter(&|v| format!("{v:.0e}"))
            .label_style((FONT, 13))
            .draw()
            .map_err(fail(NAME))?;
        for (k, (name, pts)) in sessions.iter().enumerate() {
            let c = colour(k);
            let pts: Vec<(f64, f64)> = pts
                .iter()
                .map(|&(i, v)| (f64::from(i), v.max(lo)))
                .collect();
            chart
                .draw_series(LineSeries::new(pts.clone(), c.stroke_width(2)))
                .map_err(fail(NAME))?
                .label(name.clone())
                .legend(move |(x, y)| PathElement::new([(x, y), (x + 14, y)], c.stroke_width(2)));
            chart
                .draw_series(pts.iter().map(|&p| Circle::new(p, 3, c.filled())))
                .map_err(fail(NAME))?;
        }
        if let Some(t) = tolerance.filter(|t| *t > 0.0) {
            chart
                .draw_series(DashedLineSeries::new(
                    [(0.5, t), (max_it as f64 + 0.5, t)],
                    6,
                    4,
                    GREY.stroke_width(1),
                ))
                .map_err(fail(NAME))?
                .label(format!("tolerance {t:.0e}"))
                .legend(|(x, y)| PathElement::new([(x, y), (x + 14, y)], GREY));
        }
        legend(&mut chart, SeriesLabelPosition::UpperRight, NAME)?;
        Ok(())
    })
}

/// A point of the precision–recall curve.
pub(crate) struct PrPoint {
    /// Threshold.
    pub threshold: f64,
    /// Recall.
    pub recall: f64,
    /// Precision.
    pub precision: f64,
}

/// Precision against recall across thresholds, the F1-best point and the
/// link threshold's marked.
pub(crate) fn pr_curve(
    points: &[PrPoint],
    best: Option<&PrPoint>,
    at_link: Option<&PrPoint>,
    caption: &str,
) -> Result<String, ReportError> {
    const NAME: &str = "precision-recall";
    let lo = |f: fn(&PrPoint) -> f64| {
        let m = points.iter().map(f).fold(1.0, f64::min);
        ((m - 0.01) * 50.0).floor().max(0.0) / 50.0
    };
    let (rx, py) = (lo(|p| p.recall).min(0.98), lo(|p| p.precision).min(0.98));
    svg(NAME, 440, |root| {
        let mut chart = ChartBuilder::on(root)
            .margin(12)
            .caption(caption, (FONT, 18).into_font())
            .x_label_area_size(45)
            .y_label_area_size(70)
            .build_cartesian_2d(rx..1.002f64, py..1.002f64)
            .map_err(fail(NAME))?;
        chart
            .configure_mesh()
            .x_desc("recall (of the achievable links)")
            .y_desc("precision")
            .x_label_formatter(&|v| pct_label(*v, 1.0 - rx))
            .y_label_formatter(&|v| pct_label(*v, 1.0 - py))
            .label_style((FONT, 13))
            .draw()
            .map_err(fail(NAME))?;
        chart
            .draw_series(LineSeries::new(
                points.iter().map(|p| (p.recall, p.precision)),
                BLUE.stroke_width(2),
            ))
            .map_err(fail(NAME))?
            .label("linkage at each threshold")
            .legend(|(x, y)| PathElement::new([(x, y), (x + 14, y)], BLUE.stroke_width(2)));
        chart
            .draw_series(
                points
                    .iter()
                    .map(|p| Circle::new((p.recall, p.precision), 2, BLUE.filled())),
            )
            .map_err(fail(NAME))?;
        if let Some(b) = best {
            chart
                .draw_series([Circle::new(
                    (b.recall, b.precision),
                    7,
                    GREEN.stroke_width(3),
                )])
                .map_err(fail(NAME))?
                .label(format!("best F1 (weight ≥ {:.2})", b.threshold))
                .legend(|(x, y)| Circle::new((x + 7, y), 5, GREEN.stroke_width(3)));
        }
        if let Some(a) = at_link {
            chart
                .draw_series([Cross::new((a.recall, a.precision), 7, RED_.stroke_width(3))])
                .map_err(fail(NAME))?
                .label(format!("as linked (weight ≥ {:.2})", a.threshold))
                .legend(|(x, y)| Cross::new((x + 7, y), 5, RED_.stroke_width(3)));
        }
        legend(&mut chart, SeriesLabelPosition::LowerLeft, NAME)?;
        Ok(())
    })
}

/// Horizontal bars of shares (0–100%): one row per label, one bar per
/// series in it; a missing (suppressed) share is marked "suppressed". An
/// optional reference share is drawn as a dashed line.
pub(crate) fn share_bars(
    caption: &str,
    x_desc: &str,
    series: &[String],
    rows: &[(String, Vec<Option<f64>>)],
    reference: Option<(String, f64)>,
) -> Result<String, ReportError> {
    const NAME: &str = "shares";
    let n = rows.len().max(1);
    let k = series.len().max(1);
    let row_px = 10 + 12 * k as u32;
    let height = 130 + row_px * n as u32;
    svg(NAME, height, |root| {
        let mut chart = ChartBuilder::on(root)
            .margin(12)
            .caption(caption, (FONT, 18).into_font())
            .x_label_area_size(45)
            .y_label_area_size(260)
            // Room right of 100% for the legend.
            .build_cartesian_2d(0f64..1.4, 0f64..n as f64)
            .map_err(fail(NAME))?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .disable_x_mesh()
            .y_labels(0)
            .x_labels(15)
            .x_desc(x_desc)
            .x_label_formatter(&|v| {
                if *v <= 1.0001 {
                    format!("{:.0}%", v * 100.0)
                } else {
                    String::new()
                }
            })
            .label_style((FONT, 13))
            .draw()
            .map_err(fail(NAME))?;
        let band = 0.8 / k as f64;
        for (s, name) in series.iter().enumerate() {
            let c = colour(s);
            let bars: Vec<Rectangle<(f64, f64)>> = rows
                .iter()
                .enumerate()
                .filter_map(|(i, (_, v))| {
                    let share = (*v.get(s)?)?;
                    let top = (n - i) as f64 - 0.1 - band * s as f64;
                    Some(Rectangle::new(
                        [(0.0, top - band), (share.clamp(0.0, 1.0), top)],
                        c.filled(),
                    ))
                })
                .collect();
            chart
                .draw_series(bars)
                .map_err(fail(NAME))?
                .label(name.clone())
                .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 14, y + 5)], c.filled()));
        }
        for (i, (label, v)) in rows.iter().enumerate() {
            let (px, py) = chart.backend_coord(&(0.0, (n - i) as f64 - 0.5));
            root.draw(&Text::new(fit(label), (px - 8, py), label_text(13)))
                .map_err(fail(NAME))?;
            for (s, share) in v.iter().enumerate() {
                if share.is_none() {
                    let top = (n - i) as f64 - 0.1 - band * s as f64;
                    let (qx, qy) = chart.backend_coord(&(0.0, top - band / 2.0));
                    root.draw(&Text::new(
                        "suppressed".to_string(),
                        (qx + 4, qy),
                        (FONT, 11)
                            .into_font()
                            .color(&GREY.mix(1.0))
                            .pos(Pos::new(HPos::Left, VPos::Center)),
                    ))
                    .map_err(fail(NAME))?;
                }
            }
        }
        chart
            .draw_series(LineSeries::new([(1.0, 0.0), (1.0, n as f64)], GREY))
            .map_err(fail(NAME))?;
        if let Some((name, r)) = reference {
            chart
                .draw_series(DashedLineSeries::new(
                    [(r, 0.0), (r, n as f64)],
                    6,
                    4,
                    RED_.stroke_width(2),
                ))
                .map_err(fail(NAME))?
                .label(name)
                .legend(|(x, y)| PathElement::new([(x, y), (x + 14, y)], RED_.stroke_width(2)));
        }
        legend(&mut chart, SeriesLabelPosition::UpperRight, NAME)?;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shapes(svg: &str) -> usize {
        ["<rect", "<circle", "<polyline", "<path", "<line"]
            .iter()
            .map(|t| svg.matches(t).count())
            .sum()
    }

    #[test]
    fn charts_draw_their_data() {
        let bins: Vec<(f64, f64, Count)> = (0..20)
            .map(|i| {
                let c = if i % 3 == 0 {
                    Count::Below(10)
                } else {
                    Count::Value(10 * i as u64 + 10)
                };
                (i as f64 - 10.0, i as f64 - 9.5, c)
            })
            .collect();
        let h = weight_histogram(&bins, Some(0.5)).unwrap();
        assert!(h.starts_with("<svg"), "{}", &h[..40]);
        assert!(h.contains("link threshold (weight 0.50)"));
        assert!(h.contains("fewer than 10 (suppressed)"));
        assert!(shapes(&h) > 20);

        let rows = vec![
            MuRow {
                label: "nhs_number: exact".into(),
                m: 0.9,
                u: 1e-5,
                first_of_comparison: true,
            },
            MuRow {
                label: "nhs_number: else".into(),
                m: 0.1,
                u: 0.99999,
                first_of_comparison: false,
            },
            MuRow {
                label: "sex: <exact> & \"so\"".into(),
                m: 1e-9,
                u: 0.5,
                first_of_comparison: true,
            },
        ];
        let s = m_u(&rows).unwrap();
        assert!(s.contains("nhs_number: exact"));
        assert!(
            s.contains("sex: &lt;exact&gt; &amp; &quot;so&quot;"),
            "text is escaped"
        );
        assert_eq!(
            s.matches("<circle").count(),
            3 + 1,
            "three points and the legend"
        );

        let e = em(
            &[
                ("dob".into(), vec![(1, 0.4), (2, 0.01), (3, 1e-5)]),
                ("postcode".into(), vec![(1, 0.2), (2, 1e-3)]),
            ],
            Some(1e-4),
        )
        .unwrap();
        assert!(e.contains("postcode") && e.contains("tolerance 1e-4"));

        let pts: Vec<PrPoint> = (0..10)
            .map(|i| PrPoint {
                threshold: 10.0 - i as f64,
                recall: 0.9 + 0.01 * i as f64,
                precision: 1.0 - 0.005 * i as f64,
            })
            .collect();
        let p = pr_curve(&pts, Some(&pts[5]), Some(&pts[9]), "PR").unwrap();
        assert!(p.contains("best F1 (weight ≥ 5.00)"));
        assert!(p.contains("as linked (weight ≥ 1.00)"));

        let b = share_bars(
            "Match rate by age band",
            "records with a link",
            &["NHS".into(), "DWP".into()],
            &[
                ("0-15".into(), vec![Some(0.5), None]),
                ("16-24".into(), vec![Some(0.75), Some(0.9)]),
            ],
            Some(("overall".into(), 0.6)),
        )
        .unwrap();
        assert!(b.contains("16-24") && b.contains("suppressed") && b.contains("overall"));
    }

    #[test]
    fn long_labels_are_cut() {
        assert_eq!(fit("short"), "short");
        let long = "NHS Bath and North East Somerset, Swindon and Wiltshire ICB";
        let f = fit(long);
        assert_eq!(f.chars().count(), 40);
        assert!(f.ends_with('…'));
    }

    #[test]
    fn powers_of_ten() {
        assert_eq!(floor_pow10(0.03), 0.01);
        assert_eq!(ceil_pow10(0.03), 0.1);
        assert_eq!(ceil_pow10(1500.0), 10000.0);
        assert_eq!(format_pow(100.0), "100");
        assert_eq!(format_pow(1e7), "1e7");
    }
}
