//! One chart of the Scalars tab: its image (drawn off the UI thread) in a plot with axes,
//! zoom, pan and the nearest point on hover.

use egui::Ui;
use egui_plot::{Plot, PlotImage, PlotPoint};

use super::ScalarsTab;
use crate::ui::chart_render::{HoverLine, XAxis};
use crate::ui::format;

impl ScalarsTab {
    /// One chart: its image in a plot (axes, zoom, pan, hover), or a placeholder while
    /// its first image is drawn.
    pub(super) fn chart(&mut self, ui: &mut Ui, tag: &str, width: f32, height: f32) {
        let Some(chart) = self.charts.get(tag) else {
            let (rect, _) = ui.allocate_exact_size(egui::vec2(width, height), egui::Sense::hover());
            ui.scope_builder(egui::UiBuilder::new().max_rect(rect), |ui| {
                ui.centered_and_justified(|ui| {
                    ui.horizontal(|ui| {
                        ui.spinner();
                        ui.label(format!("Drawing {tag}…"));
                    });
                });
            });
            return;
        };
        let (x_axis, log_y) = (self.x_axis, self.log_y);
        let [x0, y0, x1, y1] = chart.bounds;
        let image = PlotImage::new(
            tag.to_owned(),
            chart.texture.id(),
            PlotPoint::new((x0 + x1) / 2.0, (y0 + y1) / 2.0),
            egui::vec2((x1 - x0) as f32, (y1 - y0) as f32),
        );
        let view = self.views.get(tag).copied();
        let mut hovered: Option<String> = None;
        let mut near: Option<(String, f64)> = None;
        let response = Plot::new(("scalar_chart", tag))
            .width(width)
            .height(height)
            .set_margin_fraction(egui::Vec2::ZERO)
            .show_x(false)
            .show_y(false)
            .x_axis_formatter(move |mark, _| x_label(mark.value, x_axis))
            .y_axis_formatter(move |mark, _| y_label(mark.value, log_y))
            .show(ui, |plot| {
                if let Some([a, b, c, d]) = view {
                    plot.set_plot_bounds(egui_plot::PlotBounds::from_min_max([a, b], [c, d]));
                }
                plot.image(image);
                if let Some(pointer) = plot.pointer_coordinate() {
                    let to_screen = |p: &PlotPoint| plot.screen_from_plot(*p);
                    hovered = nearest(
                        &chart.hover,
                        pointer,
                        to_screen,
                        plot.screen_from_plot(pointer),
                    )
                    .map(|(run, p)| {
                        near = Some((run.to_owned(), p.x));
                        format!(
                            "{run}\n{} {} — {}",
                            axis_word(x_axis),
                            x_label(p.x, x_axis),
                            y_label(p.y, log_y)
                        ) + "\nclick: the log lines written then"
                    });
                }
            });
        response.response.widget_info(|| {
            egui::WidgetInfo::labeled(egui::Role::Image, true, format!("{tag} chart"))
        });
        if let Some(text) = hovered {
            response.response.clone().on_hover_text_at_pointer(text);
        }
        // egui_plot gives a pointer coordinate wherever the pointer is: only a pointer
        // over this chart points at one of its points.
        if response.response.hovered()
            && let Some((run, x)) = &near
        {
            self.hovered_point = Some((run.clone(), tag.to_owned(), *x));
        }
        if response.response.clicked()
            && let Some((run, x)) = near
        {
            self.clicked_point = Some((run, tag.to_owned(), x));
        }
        let bounds = response.transform.bounds();
        let shown = [
            bounds.min()[0],
            bounds.min()[1],
            bounds.max()[0],
            bounds.max()[1],
        ];
        if response.response.double_clicked() {
            self.views.remove(tag);
        } else if response.response.dragged()
            || response.response.hovered()
                && ui.input(|i| i.smooth_scroll_delta != egui::Vec2::ZERO || i.zoom_delta() != 1.0)
        {
            self.views.insert(tag.to_owned(), shown);
        }
    }
}

/// The run and point nearest the pointer (within 12 px), for the hover read-out.
fn nearest(
    lines: &[HoverLine],
    pointer: PlotPoint,
    to_screen: impl Fn(&PlotPoint) -> egui::Pos2,
    at: egui::Pos2,
) -> Option<(&str, PlotPoint)> {
    let mut best: Option<(f32, &str, PlotPoint)> = None;
    for HoverLine { run, points } in lines {
        let i = points.partition_point(|p| p.x < pointer.x);
        for p in points[i.saturating_sub(1)..(i + 1).min(points.len())].iter() {
            let d = to_screen(p).distance(at);
            if d <= 12.0 && best.is_none_or(|(b, _, _)| d < b) {
                best = Some((d, run, *p));
            }
        }
    }
    best.map(|(_, run, p)| (run, p))
}

fn axis_word(x_axis: XAxis) -> &'static str {
    match x_axis {
        XAxis::Step => "step",
        XAxis::Relative => "after",
        XAxis::Wall => "at",
    }
}

fn x_label(x: f64, axis: XAxis) -> String {
    match axis {
        XAxis::Step => format!("{x:.0}"),
        XAxis::Relative => format::clock_seconds(x),
        XAxis::Wall => chrono::DateTime::from_timestamp(x as i64, 0)
            .map(|t| {
                t.with_timezone(&chrono::Local)
                    .format("%H:%M:%S")
                    .to_string()
            })
            .unwrap_or_default(),
    }
}

fn y_label(y: f64, log_y: bool) -> String {
    let v = if log_y { 10f64.powf(y) } else { y };
    if v != 0.0 && (v.abs() >= 1e5 || v.abs() < 1e-3) {
        format!("{v:.2e}")
    } else {
        format!("{v:.4}")
    }
}
