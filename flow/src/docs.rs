//! Text forms of the registry: the table for `modemflow blocks`, the page for
//! `modemflow describe`, and the generated block reference (docs/blocks.md).

use crate::registry::{BlockSpec, ParamSpec, Registry};

/// One parameter on one line: name, kind, default, range or allowed
/// values, unit and whether it is live (also the editor's field label).
pub fn param_line(p: &ParamSpec) -> String {
    let mut s = format!("{} ({})", p.name, p.kind.name());
    match &p.default {
        Some(d) => s.push_str(&format!(", default {d}")),
        None => s.push_str(", required"),
    }
    if let Some((lo, hi)) = p.range {
        s.push_str(&format!(", {lo} … {hi}"));
    }
    if let Some(a) = &p.allowed {
        let l: Vec<String> = a.iter().map(|x| x.to_string()).collect();
        s.push_str(&format!(", one of {}", l.join("/")));
    }
    if !p.unit.is_empty() {
        s.push_str(&format!(" [{}]", p.unit));
    }
    if p.live {
        s.push_str(", live");
    }
    s
}

/// A terminal page describing one block type.
pub fn describe(spec: &BlockSpec) -> String {
    let mut s = format!("{} ({})\n  {}\n", spec.name, spec.category, spec.summary);
    if !spec.doc.is_empty() {
        s.push_str(&format!("\n{}\n", wrap(spec.doc, 78, "  ")));
    }
    let ports = |title: &str, list: &[crate::PortSpec], s: &mut String| {
        if list.is_empty() {
            return;
        }
        s.push_str(&format!("\n{title}:\n"));
        for p in list {
            s.push_str(&format!(
                "  {:<12} {:<10} rate {:<7}{} {}\n",
                p.name,
                p.ty.describe(),
                p.rate.describe(),
                if p.optional { " (optional)" } else { "" },
                p.doc
            ));
        }
    };
    ports("Inputs", &spec.inputs, &mut s);
    ports("Outputs", &spec.outputs, &mut s);
    if !spec.params.is_empty() {
        s.push_str("\nParameters:\n");
        for p in &spec.params {
            s.push_str(&format!("  {}\n      {}\n", param_line(p), p.doc));
        }
    }
    if !spec.events.is_empty() {
        s.push_str("\nEvents:\n");
        for e in &spec.events {
            let f: Vec<&str> = e.fields.iter().map(|f| f.0).collect();
            s.push_str(&format!(
                "  {} {{{}}}\n      {}\n",
                e.name,
                f.join(", "),
                e.doc
            ));
        }
    }
    if spec.delays {
        s.push_str("\nHas a delay: feedback loops may pass through it.\n");
    }
    s
}

fn wrap(text: &str, width: usize, indent: &str) -> String {
    let mut out = String::new();
    let mut line = String::from(indent);
    for w in text.split_whitespace() {
        if line.len() + w.len() + 1 > width && !line.trim().is_empty() {
            out.push_str(line.trim_end());
            out.push('\n');
            line = String::from(indent);
        }
        line.push_str(w);
        line.push(' ');
    }
    out.push_str(line.trim_end());
    out
}

/// The table printed by `modemflow blocks`.
pub fn table(reg: &Registry) -> String {
    let mut s = String::new();
    let mut cat = "";
    for spec in reg.all() {
        if spec.category != cat {
            cat = spec.category;
            s.push_str(&format!("\n{cat}\n"));
        }
        let io = |l: &[crate::PortSpec]| -> String {
            l.iter()
                .map(|p| p.ty.describe())
                .collect::<Vec<_>>()
                .join(",")
        };
        let sig = format!(
            "{} -> {}",
            or_dash(io(&spec.inputs)),
            or_dash(io(&spec.outputs))
        );
        s.push_str(&format!(
            "  {:<22} {:<22} {}\n",
            spec.name, sig, spec.summary
        ));
    }
    s.trim_start().to_string()
}

fn or_dash(s: String) -> String {
    if s.is_empty() {
        "-".into()
    } else {
        s
    }
}

/// Text safe inside a Markdown table cell.
fn cell(s: &str) -> String {
    s.replace('|', "\\|")
}

/// The block reference in Markdown (docs/blocks.md).
pub fn markdown(reg: &Registry) -> String {
    let mut s = String::from(
        "# Block reference\n\n\
         Generated from the registry by `modemflow blocks --markdown`; do not edit by hand \
         (a test fails when this file is stale). `modemflow describe TYPE` shows the same \
         for one block.\n\n\
         Item types: `bit` (0/1 in a byte), `octet`, `i16`, `f32`, `c32`. A port of type \
         `any (a)` takes its type from what it is connected to; ports sharing a letter share \
         the type. A rate `n:d` means n items on that port for d items on the block's first \
         input (for sources, its first output). Parameters marked live can change while the \
         graph runs.\n",
    );
    let mut cat = "";
    for spec in reg.all() {
        if spec.category != cat {
            cat = spec.category;
            s.push_str(&format!("\n## {cat}\n"));
        }
        s.push_str(&format!("\n### `{}`\n\n{}\n", spec.name, spec.summary));
        if !spec.doc.is_empty() {
            s.push_str(&format!(
                "\n{}\n",
                spec.doc.split_whitespace().collect::<Vec<_>>().join(" ")
            ));
        }
        if !spec.inputs.is_empty() || !spec.outputs.is_empty() {
            s.push_str(
                "\n| port | direction | type | rate | description |\n|---|---|---|---|---|\n",
            );
            for (dir, list) in [("in", &spec.inputs), ("out", &spec.outputs)] {
                for p in list {
                    s.push_str(&format!(
                        "| `{}` | {dir}{} | {} | {} | {} |\n",
                        p.name,
                        if p.optional { " (optional)" } else { "" },
                        p.ty.describe(),
                        p.rate.describe(),
                        cell(p.doc)
                    ));
                }
            }
        }
        if !spec.params.is_empty() {
            s.push_str("\n| parameter | type | default | range | unit | live | description |\n|---|---|---|---|---|---|---|\n");
            for p in &spec.params {
                let range = match (&p.range, &p.allowed) {
                    (_, Some(a)) => a
                        .iter()
                        .map(|x| x.to_string())
                        .collect::<Vec<_>>()
                        .join(", "),
                    (Some((lo, hi)), None) => format!("{lo} … {hi}"),
                    _ => String::new(),
                };
                s.push_str(&format!(
                    "| `{}` | {} | {} | {} | {} | {} | {} |\n",
                    p.name,
                    cell(&p.kind.name()),
                    p.default
                        .as_ref()
                        .map(|d| format!("`{d}`"))
                        .unwrap_or_else(|| "required".into()),
                    range,
                    p.unit,
                    if p.live { "yes" } else { "" },
                    cell(p.doc)
                ));
            }
        }
        for e in &spec.events {
            let f: Vec<String> = e
                .fields
                .iter()
                .map(|(n, d)| format!("`{n}` ({d})"))
                .collect();
            s.push_str(&format!(
                "\nEvent `{}`: {} Fields: {}.\n",
                e.name,
                e.doc,
                f.join(", ")
            ));
        }
        if spec.delays {
            s.push_str("\nHas a delay: a feedback loop may pass through this block.\n");
        }
    }
    s
}
