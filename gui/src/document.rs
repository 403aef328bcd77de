//! The flowgraph file as the editor holds it: what the user wrote, not the
//! evaluated graph. Values stay the text they were typed as (an expression, a
//! variable's name, quoted text), so an open–save round trip keeps the graph's
//! meaning, its variables, its `#` comments and the editor's `layout`
//! (docs/flowgraph-format.md). Validation and running go through the same
//! loader as the command line, on the text [`Document::to_yaml`] writes.

use marked_yaml::types::{MarkedMappingNode, MarkedScalarNode};
use marked_yaml::Node as YamlNode;
use std::collections::BTreeMap;

/// A value as written: its text and whether it was quoted (quoted text is
/// literal text; anything else may be an expression).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scalar {
    pub text: String,
    pub quoted: bool,
}

impl Scalar {
    pub fn plain(text: impl Into<String>) -> Scalar {
        Scalar {
            text: text.into(),
            quoted: false,
        }
    }

    fn from_node(s: &MarkedScalarNode) -> Scalar {
        Scalar {
            text: s.as_str().to_string(),
            quoted: !s.may_coerce(),
        }
    }
}

/// `#` comments that belong to an item: whole lines before it, and the one
/// at the end of its line (with the lines that continue it, aligned under it).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Comments {
    pub before: Vec<String>,
    pub after: Vec<String>,
    /// The column the trailing comment's `#` stood at (0: not known), so
    /// aligned comments stay aligned.
    pub col: usize,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Variable {
    pub name: String,
    pub value: Scalar,
    pub comments: Comments,
}

#[derive(Clone, Debug, PartialEq)]
pub struct BlockDoc {
    pub id: String,
    /// A registered type, or a path ending in `.yaml` (a subgraph).
    pub kind: String,
    /// Parameters set in the file, in order; the others take defaults.
    pub params: Vec<(String, Scalar)>,
    pub enabled: bool,
    /// The block's `comment:` key.
    pub note: Option<String>,
    /// Written on one line, `- {id: …}` (if it fits), rather than a key
    /// per line.
    pub one_line: bool,
    pub comments: Comments,
}

impl BlockDoc {
    pub fn param(&self, name: &str) -> Option<&Scalar> {
        self.params.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }

    /// Sets a parameter (appended if new); `None` removes it (default).
    pub fn set_param(&mut self, name: &str, value: Option<Scalar>) {
        let pos = self.params.iter().position(|(n, _)| n == name);
        match (pos, value) {
            (Some(i), Some(v)) => self.params[i].1 = v,
            (None, Some(v)) => self.params.push((name.to_string(), v)),
            (Some(i), None) => {
                self.params.remove(i);
            }
            (None, None) => {}
        }
    }
}

/// `block.port` on either end of a connection.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PortRef {
    pub block: String,
    pub port: String,
}

impl PortRef {
    pub fn new(block: impl Into<String>, port: impl Into<String>) -> PortRef {
        PortRef {
            block: block.into(),
            port: port.into(),
        }
    }

    fn parse(s: &str) -> Option<PortRef> {
        let (b, p) = s.trim().rsplit_once('.')?;
        (!b.is_empty() && !p.is_empty()).then(|| PortRef::new(b, p))
    }
}

impl std::fmt::Display for PortRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.block, self.port)
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Connection {
    pub from: PortRef,
    pub to: PortRef,
    pub comments: Comments,
}

/// A subgraph file's external port: `{name, port: block.port}`.
#[derive(Clone, Debug, PartialEq)]
pub struct ExtPort {
    pub name: String,
    pub port: String,
    pub comments: Comments,
}

/// A probe the editor had open on a wire.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProbeDoc {
    pub port: String,
    pub kind: String,
}

/// What the editor stores under `layout:` (the loader ignores it).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Layout {
    pub positions: BTreeMap<String, [f32; 2]>,
    pub probes: Vec<ProbeDoc>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Document {
    /// Comment lines before the first key.
    pub header: Vec<String>,
    pub name: Option<Scalar>,
    pub description: Option<Scalar>,
    pub variables: Vec<Variable>,
    pub blocks: Vec<BlockDoc>,
    pub connections: Vec<Connection>,
    pub inputs: Vec<ExtPort>,
    pub outputs: Vec<ExtPort>,
    pub layout: Layout,
    /// Comment lines after the last item.
    pub footer: Vec<String>,
}

/// A reason the text could not be read as a document, with its place.
#[derive(Clone, Debug, PartialEq)]
pub struct ParseError {
    pub line: usize,
    pub col: usize,
    pub message: String,
}

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}: {}", self.line, self.col, self.message)
    }
}

/// Where a line of written text came from: which block and parameter, or
/// which variable, so a diagnostic's line can point at the field to mark.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SourceMap {
    /// Per line: (first column, origin) of each part, ascending.
    lines: Vec<Vec<(usize, Origin)>>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Origin {
    #[default]
    Other,
    Variable(String),
    Block(String),
    Param(String, String),
    Connection(usize),
}

impl SourceMap {
    /// What written line `line`, column `col` (both 1-based) holds.
    pub fn at(&self, line: usize, col: usize) -> &Origin {
        static OTHER: Origin = Origin::Other;
        line.checked_sub(1)
            .and_then(|i| self.lines.get(i))
            .and_then(|parts| parts.iter().rev().find(|(c, _)| *c <= col))
            .map_or(&OTHER, |(_, o)| o)
    }
}

fn line_of(span: &marked_yaml::Span) -> usize {
    span.start().map_or(1, |m| m.line())
}

fn err_at(span: &marked_yaml::Span, message: impl Into<String>) -> ParseError {
    let (line, col) = span.start().map_or((1, 1), |m| (m.line(), m.column()));
    ParseError {
        line,
        col,
        message: message.into(),
    }
}

fn text_of(m: &MarkedMappingNode, key: &str) -> Option<String> {
    m.get_scalar(key).map(|s| s.as_str().to_string())
}

/// The comment on one source line: (`#` column, text after `#`), outside
/// quotes, preceded by a space or at the line's start.
fn comment_in(line: &str) -> Option<(usize, String)> {
    let (mut single, mut double) = (false, false);
    let mut prev = ' ';
    for (i, c) in line.char_indices() {
        match c {
            '\'' if !double => single = !single,
            '"' if !single => double = !double,
            '#' if !single && !double && prev.is_whitespace() => {
                return Some((line[..i].chars().count(), line[i + 1..].to_string()));
            }
            _ => {}
        }
        prev = c;
    }
    None
}

/// Distributes the source's comments over the items that start on
/// `starts` (1-based lines, ascending): lines before an item are its
/// `before`; a comment at the end of its line, and comment lines aligned
/// under that one, its `after`. Returns (header, per item, footer).
fn distribute(text: &str, starts: &[usize]) -> (Vec<String>, Vec<Comments>, Vec<String>) {
    let lines: Vec<&str> = text.lines().collect();
    let mut per: Vec<Comments> = vec![Comments::default(); starts.len()];
    let mut pending: Vec<String> = Vec::new();
    let mut header = Vec::new();
    let mut item = 0usize;
    // (item, column) of the last trailing comment, while lines continue it.
    let mut trailing: Option<(usize, usize)> = None;
    for (i, line) in lines.iter().enumerate() {
        let n = i + 1;
        while item < starts.len() && starts[item] < n {
            item += 1;
        }
        let trimmed = line.trim_start();
        if trimmed.starts_with('#') {
            let col = line.len() - trimmed.len();
            let body = trimmed.strip_prefix('#').unwrap_or(trimmed).to_string();
            match trailing {
                Some((k, c)) if c == col && col > 0 => per[k].after.push(body),
                _ => {
                    trailing = None;
                    if item == 0 && starts.first().is_none_or(|&s| n < s) && per.is_empty() {
                        header.push(body);
                    } else {
                        pending.push(body);
                    }
                }
            }
            continue;
        }
        if trimmed.is_empty() {
            trailing = None;
            continue;
        }
        trailing = None;
        let this = starts.iter().position(|&s| s == n);
        if let Some(k) = this {
            per[k].before.append(&mut pending);
        }
        if let Some((col, body)) = comment_in(line) {
            // The comment belongs to the item this line is part of; a
            // top-level key (no indentation) is part of none.
            let indented = line.starts_with(' ');
            let owner = this.or_else(|| {
                indented
                    .then(|| starts.iter().rposition(|&s| s < n))
                    .flatten()
            });
            if let Some(k) = owner {
                if per[k].after.is_empty() {
                    per[k].col = col;
                }
                per[k].after.push(body);
                trailing = Some((k, col));
            }
        }
    }
    (header, per, pending)
}

impl Document {
    /// An empty graph.
    pub fn new() -> Document {
        Document::default()
    }

    /// Reads a flowgraph file's text. Only the layout of the file is checked
    /// here; what the loader checks (types, parameters, ports) it reports
    /// when the editor validates.
    pub fn parse(text: &str) -> Result<Document, ParseError> {
        let root = marked_yaml::parse_yaml_with_options(
            0,
            text,
            marked_yaml::LoaderOptions::default()
                .error_on_duplicate_keys(true)
                .prevent_coercion(true),
        )
        .map_err(|e| {
            let msg = e.to_string();
            let (line, col) = e_marker(&e).unwrap_or((1, 1));
            ParseError {
                line,
                col,
                message: format!("YAML: {msg}"),
            }
        })?;
        let top = root
            .as_mapping()
            .ok_or_else(|| err_at(root.span(), "a flowgraph is a YAML mapping with `blocks:`"))?;
        let mut doc = Document::new();
        let mut starts = Vec::new();
        // (which list, index) per start line, to hand comments back.
        let mut owners: Vec<(u8, usize)> = Vec::new();
        for key in ["name", "description"] {
            if let Some(s) = top.get_scalar(key) {
                let v = Some(Scalar::from_node(s));
                if key == "name" {
                    doc.name = v;
                } else {
                    doc.description = v;
                }
                starts.push(line_of(s.span()));
                owners.push((0, 0));
            }
        }
        if let Some(v) = top.get_node("variables") {
            let m = v
                .as_mapping()
                .ok_or_else(|| err_at(v.span(), "`variables` is a mapping NAME: VALUE"))?;
            for (k, val) in m.iter() {
                let value = match val {
                    YamlNode::Scalar(s) => Scalar::from_node(s),
                    other => {
                        return Err(err_at(
                            other.span(),
                            format!("variable `{}` must be a single value", k.as_str()),
                        ))
                    }
                };
                starts.push(line_of(k.span()));
                owners.push((1, doc.variables.len()));
                doc.variables.push(Variable {
                    name: k.as_str().to_string(),
                    value,
                    comments: Comments::default(),
                });
            }
        }
        if let Some(b) = top.get_node("blocks") {
            let seq = b
                .as_sequence()
                .ok_or_else(|| err_at(b.span(), "`blocks` is a list"))?;
            for item in seq.iter() {
                let m = item.as_mapping().ok_or_else(|| {
                    err_at(item.span(), "a block is a mapping with `id` and `type`")
                })?;
                let mut params = Vec::new();
                if let Some(p) = m.get_node("params") {
                    let pm = p
                        .as_mapping()
                        .ok_or_else(|| err_at(p.span(), "`params` is a mapping NAME: VALUE"))?;
                    for (k, v) in pm.iter() {
                        let s = v.as_scalar().ok_or_else(|| {
                            err_at(
                                v.span(),
                                format!("parameter `{}` must be a single value", k.as_str()),
                            )
                        })?;
                        params.push((k.as_str().to_string(), Scalar::from_node(s)));
                    }
                }
                let enabled = m
                    .get_scalar("enabled")
                    .is_none_or(|s| s.as_str().trim() != "false");
                let one_line = item.span().start().is_some_and(|m| {
                    text.lines()
                        .nth(m.line().saturating_sub(1))
                        .and_then(|l| l.chars().nth(m.column().saturating_sub(1)))
                        == Some('{')
                });
                starts.push(line_of(item.span()));
                owners.push((2, doc.blocks.len()));
                doc.blocks.push(BlockDoc {
                    id: text_of(m, "id").unwrap_or_default(),
                    kind: text_of(m, "type").unwrap_or_default(),
                    params,
                    enabled,
                    note: text_of(m, "comment"),
                    one_line,
                    comments: Comments::default(),
                });
            }
        }
        if let Some(c) = top.get_node("connections") {
            let seq = c
                .as_sequence()
                .ok_or_else(|| err_at(c.span(), "`connections` is a list"))?;
            for item in seq.iter() {
                let s = item.as_scalar().ok_or_else(|| {
                    err_at(item.span(), "a connection is `block.port -> block.port`")
                })?;
                let (from, to) = s
                    .as_str()
                    .split_once("->")
                    .and_then(|(a, b)| Some((PortRef::parse(a)?, PortRef::parse(b)?)))
                    .ok_or_else(|| {
                        err_at(
                            s.span(),
                            format!("`{}` is not `block.port -> block.port`", s.as_str()),
                        )
                    })?;
                starts.push(line_of(s.span()));
                owners.push((3, doc.connections.len()));
                doc.connections.push(Connection {
                    from,
                    to,
                    comments: Comments::default(),
                });
            }
        }
        for (key, list) in [("inputs", 4u8), ("outputs", 5u8)] {
            let Some(n) = top.get_node(key) else { continue };
            let seq = n
                .as_sequence()
                .ok_or_else(|| err_at(n.span(), format!("`{key}` is a list of {{name, port}}")))?;
            for item in seq.iter() {
                let m = item
                    .as_mapping()
                    .ok_or_else(|| err_at(item.span(), "an external port is {name, port}"))?;
                let port = ExtPort {
                    name: text_of(m, "name").unwrap_or_default(),
                    port: text_of(m, "port").unwrap_or_default(),
                    comments: Comments::default(),
                };
                starts.push(line_of(item.span()));
                let target = if list == 4 {
                    &mut doc.inputs
                } else {
                    &mut doc.outputs
                };
                owners.push((list, target.len()));
                target.push(port);
            }
        }
        if let Some(l) = top.get_node("layout").and_then(|n| n.as_mapping()) {
            doc.layout = read_layout(l);
        }
        // Items in file order for the comments.
        let mut order: Vec<usize> = (0..starts.len()).collect();
        order.sort_by_key(|&i| starts[i]);
        let sorted: Vec<usize> = order.iter().map(|&i| starts[i]).collect();
        let (header, per, footer) = distribute(text, &sorted);
        doc.header = header;
        doc.footer = footer;
        for (c, &i) in per.into_iter().zip(&order) {
            let (list, k) = owners[i];
            match list {
                1 => doc.variables[k].comments = c,
                2 => doc.blocks[k].comments = c,
                3 => doc.connections[k].comments = c,
                4 => doc.inputs[k].comments = c,
                5 => doc.outputs[k].comments = c,
                // name / description: their comments go to the header.
                _ => {
                    doc.header.extend(c.before);
                    doc.header.extend(c.after);
                }
            }
        }
        Ok(doc)
    }

    pub fn block(&self, id: &str) -> Option<&BlockDoc> {
        self.blocks.iter().find(|b| b.id == id)
    }

    pub fn block_mut(&mut self, id: &str) -> Option<&mut BlockDoc> {
        self.blocks.iter_mut().find(|b| b.id == id)
    }

    /// A fresh id for a block of type `kind`: its name (the file name for a
    /// subgraph) with the first free number.
    pub fn fresh_id(&self, kind: &str) -> String {
        let stem: String = kind
            .trim_end_matches(".yaml")
            .rsplit('/')
            .next()
            .unwrap_or("block")
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect();
        let stem = if stem.starts_with(|c: char| c.is_ascii_alphabetic()) {
            stem
        } else {
            format!("b_{stem}")
        };
        (0..)
            .map(|i| format!("{stem}_{i}"))
            .find(|id| self.block(id).is_none())
            .unwrap_or(stem)
    }

    /// Renames a block and every connection, external port and layout entry
    /// that names it.
    pub fn rename_block(&mut self, old: &str, new: &str) {
        for b in &mut self.blocks {
            if b.id == old {
                b.id = new.to_string();
            }
        }
        for c in &mut self.connections {
            for end in [&mut c.from, &mut c.to] {
                if end.block == old {
                    end.block = new.to_string();
                }
            }
        }
        for p in self.inputs.iter_mut().chain(self.outputs.iter_mut()) {
            if let Some(port) = p.port.strip_prefix(&format!("{old}.")) {
                p.port = format!("{new}.{port}");
            }
        }
        if let Some(pos) = self.layout.positions.remove(old) {
            self.layout.positions.insert(new.to_string(), pos);
        }
        for p in &mut self.layout.probes {
            if let Some(port) = p.port.strip_prefix(&format!("{old}.")) {
                p.port = format!("{new}.{port}");
            }
        }
    }

    /// Removes a block with its connections, positions and probes.
    pub fn remove_block(&mut self, id: &str) {
        self.blocks.retain(|b| b.id != id);
        self.connections
            .retain(|c| c.from.block != id && c.to.block != id);
        self.layout.positions.remove(id);
        let prefix = format!("{id}.");
        self.layout.probes.retain(|p| !p.port.starts_with(&prefix));
    }

    /// The file's text, with where each line came from.
    pub fn to_yaml_mapped(&self) -> (String, SourceMap) {
        let mut w = Writer::default();
        for c in &self.header {
            w.line(format!("#{c}"), Origin::Other);
        }
        if let Some(n) = &self.name {
            w.line(format!("name: {}", scalar_block(n)), Origin::Other);
        }
        if let Some(d) = &self.description {
            w.line(format!("description: {}", scalar_block(d)), Origin::Other);
        }
        if !self.variables.is_empty() {
            w.line("variables:".into(), Origin::Other);
            for v in &self.variables {
                w.item(
                    "  ",
                    &format!("{}: {}", v.name, scalar_block(&v.value)),
                    &v.comments,
                    Origin::Variable(v.name.clone()),
                );
            }
        }
        w.line(
            if self.blocks.is_empty() {
                "blocks: []"
            } else {
                "blocks:"
            }
            .into(),
            Origin::Other,
        );
        for b in &self.blocks {
            w.block(b);
        }
        if !self.connections.is_empty() {
            w.line("connections:".into(), Origin::Other);
            for (i, c) in self.connections.iter().enumerate() {
                w.item(
                    "  ",
                    &format!("- {} -> {}", c.from, c.to),
                    &c.comments,
                    Origin::Connection(i),
                );
            }
        }
        for (key, ports) in [("inputs", &self.inputs), ("outputs", &self.outputs)] {
            if ports.is_empty() {
                continue;
            }
            w.line(format!("{key}:"), Origin::Other);
            for p in ports {
                let text = format!(
                    "- {{name: {}, port: {}}}",
                    scalar_flow(&Scalar::plain(p.name.clone())),
                    scalar_flow(&Scalar::plain(p.port.clone()))
                );
                w.item("  ", &text, &p.comments, Origin::Other);
            }
        }
        let layout = &self.layout;
        if !layout.positions.is_empty() || !layout.probes.is_empty() {
            w.line("layout:".into(), Origin::Other);
            if !layout.positions.is_empty() {
                w.line("  positions:".into(), Origin::Other);
                for (id, [x, y]) in &layout.positions {
                    w.line(
                        format!("    {id}: [{}, {}]", x.round(), y.round()),
                        Origin::Block(id.clone()),
                    );
                }
            }
            if !layout.probes.is_empty() {
                w.line("  probes:".into(), Origin::Other);
                for p in &layout.probes {
                    w.line(
                        format!("    - {{port: {}, kind: {}}}", p.port, p.kind),
                        Origin::Other,
                    );
                }
            }
        }
        for c in &self.footer {
            w.line(format!("#{c}"), Origin::Other);
        }
        (w.text, SourceMap { lines: w.origins })
    }

    pub fn to_yaml(&self) -> String {
        self.to_yaml_mapped().0
    }
}

fn e_marker(e: &marked_yaml::LoadError) -> Option<(usize, usize)> {
    use marked_yaml::LoadError as E;
    let m = match e {
        E::TopLevelMustBeMapping(m)
        | E::TopLevelMustBeSequence(m)
        | E::UnexpectedAnchor(m)
        | E::MappingKeyMustBeScalar(m)
        | E::UnexpectedTag(m)
        | E::ScanError(m, _) => Some(*m),
        E::DuplicateKey(d) => d.key.span().start().copied(),
    };
    m.map(|m| (m.line(), m.column()))
}

fn read_layout(l: &MarkedMappingNode) -> Layout {
    let mut layout = Layout::default();
    if let Some(pos) = l.get_node("positions").and_then(|n| n.as_mapping()) {
        for (k, v) in pos.iter() {
            let xy: Vec<f32> = v
                .as_sequence()
                .map(|s| {
                    s.iter()
                        .filter_map(|n| n.as_scalar()?.as_str().trim().parse().ok())
                        .collect()
                })
                .unwrap_or_default();
            if let [x, y] = xy[..] {
                if x.is_finite() && y.is_finite() {
                    layout.positions.insert(k.as_str().to_string(), [x, y]);
                }
            }
        }
    }
    if let Some(probes) = l.get_node("probes").and_then(|n| n.as_sequence()) {
        for p in probes.iter() {
            if let Some(m) = p.as_mapping() {
                if let (Some(port), Some(kind)) = (text_of(m, "port"), text_of(m, "kind")) {
                    layout.probes.push(ProbeDoc { port, kind });
                }
            }
        }
    }
    layout
}

/// Characters that start a YAML indicator: a plain scalar cannot begin with
/// them (a `-` may, when a non-space follows it).
const INDICATORS: &str = "?:,[]{}#&*!|>'\"%@`";

/// Whether `t` reads back as the same plain scalar in block context.
fn plain_ok(t: &str) -> bool {
    let first = t.chars().next();
    !t.is_empty()
        && t.trim() == t
        && !t.contains(['\n', '\r', '\t'])
        && !t.contains(": ")
        && !t.contains(" #")
        && !t.ends_with(':')
        && !first.is_some_and(|c| INDICATORS.contains(c))
        && !(t.starts_with('-') && t[1..].starts_with(' '))
        && t != "-"
}

/// …and in flow context (inside `{…}`), where `,[]{}` end a scalar.
fn plain_flow_ok(t: &str) -> bool {
    plain_ok(t) && !t.contains([',', '[', ']', '{', '}'])
}

fn quote(t: &str) -> String {
    if t.contains(['\n', '\r', '\t', '\\']) {
        serde_json::to_string(t).unwrap_or_else(|_| "''".into())
    } else {
        format!("'{}'", t.replace('\'', "''"))
    }
}

fn scalar_block(s: &Scalar) -> String {
    if !s.quoted && plain_ok(&s.text) {
        s.text.clone()
    } else {
        quote(&s.text)
    }
}

fn scalar_flow(s: &Scalar) -> String {
    if !s.quoted && plain_flow_ok(&s.text) {
        s.text.clone()
    } else {
        quote(&s.text)
    }
}

#[derive(Default)]
struct Writer {
    text: String,
    origins: Vec<Vec<(usize, Origin)>>,
}

/// Flow-style blocks up to this width; longer ones take several lines.
const FLOW_WIDTH: usize = 100;

impl Writer {
    fn line(&mut self, s: String, o: Origin) {
        self.parts(s, vec![(1, o)]);
    }

    fn parts(&mut self, s: String, parts: Vec<(usize, Origin)>) {
        self.text.push_str(&s);
        self.text.push('\n');
        self.origins.push(parts);
    }

    /// An item with its comments: the lines before it at its indentation,
    /// the trailing ones aligned after it.
    fn item(&mut self, indent: &str, body: &str, c: &Comments, o: Origin) {
        self.item_parts(indent, body, c, vec![(1, o)]);
    }

    fn item_parts(&mut self, indent: &str, body: &str, c: &Comments, parts: Vec<(usize, Origin)>) {
        for b in &c.before {
            self.line(format!("{indent}#{b}"), Origin::Other);
        }
        let first = format!("{indent}{body}");
        match c.after.split_first() {
            None => self.parts(first, parts),
            Some((head, rest)) => {
                let len = first.chars().count();
                let col = if c.col > len { c.col } else { len + 2 };
                self.parts(format!("{first}{}#{head}", " ".repeat(col - len)), parts);
                for r in rest {
                    self.line(format!("{}#{r}", " ".repeat(col)), Origin::Other);
                }
            }
        }
    }

    fn block(&mut self, b: &BlockDoc) {
        let origin = Origin::Block(b.id.clone());
        let id = scalar_flow(&Scalar::plain(b.id.clone()));
        let kind = scalar_flow(&Scalar::plain(b.kind.clone()));
        let flow_ok = b
            .params
            .iter()
            .all(|(k, v)| plain_flow_ok(k) && (v.quoted || plain_flow_ok(&v.text)));
        let mut flow = format!("- {{id: {id}, type: {kind}");
        // Columns (1-based, after the two-space indent) where each
        // parameter starts, so a diagnostic's column finds it.
        let mut parts = vec![(1, origin.clone())];
        if !b.params.is_empty() {
            flow.push_str(", params: {");
            for (i, (k, v)) in b.params.iter().enumerate() {
                if i > 0 {
                    flow.push_str(", ");
                }
                parts.push((
                    3 + flow.chars().count(),
                    Origin::Param(b.id.clone(), k.clone()),
                ));
                flow.push_str(&format!("{k}: {}", scalar_flow(v)));
            }
            flow.push('}');
            parts.push((3 + flow.chars().count(), origin.clone()));
        }
        if !b.enabled {
            flow.push_str(", enabled: false");
        }
        if let Some(n) = &b.note {
            flow.push_str(&format!(
                ", comment: {}",
                scalar_flow(&Scalar::plain(n.clone()))
            ));
        }
        flow.push('}');
        if b.one_line && flow_ok && flow.chars().count() + 2 <= FLOW_WIDTH {
            self.item_parts("  ", &flow, &b.comments, parts);
            return;
        }
        self.item("  ", &format!("- id: {id}"), &b.comments, origin.clone());
        self.line(
            format!("    type: {}", scalar_block(&Scalar::plain(b.kind.clone()))),
            origin.clone(),
        );
        let mut params = String::from("    params: {");
        let mut parts = vec![(1, origin.clone())];
        for (i, (k, v)) in b.params.iter().enumerate() {
            if i > 0 {
                params.push_str(", ");
            }
            parts.push((
                1 + params.chars().count(),
                Origin::Param(b.id.clone(), k.clone()),
            ));
            params.push_str(&format!("{k}: {}", scalar_flow(v)));
        }
        params.push('}');
        if !b.params.is_empty() && flow_ok && params.chars().count() <= FLOW_WIDTH + 20 {
            self.parts(params, parts);
        } else if !b.params.is_empty() {
            self.line("    params:".into(), origin.clone());
            for (k, v) in &b.params {
                self.line(
                    format!("      {k}: {}", scalar_block(v)),
                    Origin::Param(b.id.clone(), k.clone()),
                );
            }
        }
        if !b.enabled {
            self.line("    enabled: false".into(), origin.clone());
        }
        if let Some(n) = &b.note {
            self.line(
                format!("    comment: {}", scalar_block(&Scalar::plain(n.clone()))),
                origin,
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "# A header.
# Second line.
name: t
variables:
  rate: 56000       # bit/s
                    # 0: chosen
  law: mu
  rbs: ''           # robbed bits
blocks:
  - {id: src, type: prbs_source, params: {order: 23, seed: 1}}
  # The limit.
  - {id: limit, type: head, params: {count: floor(rate * 2) * 6}}
  - id: x
    type: copy
    enabled: false
    comment: kept
connections:
  - src.out -> limit.in   # first
  - limit.out -> x.in
layout:
  positions:
    src: [10, 20]
  probes:
    - {port: src.out, kind: scope}
";

    #[test]
    fn reads_values_comments_and_layout() {
        let d = Document::parse(SAMPLE).unwrap();
        assert_eq!(d.header, vec![" A header.", " Second line."]);
        assert_eq!(d.variables.len(), 3);
        assert_eq!(d.variables[0].comments.after, vec![" bit/s", " 0: chosen"]);
        assert_eq!(
            d.variables[2].value,
            Scalar {
                text: String::new(),
                quoted: true
            }
        );
        assert_eq!(d.blocks[1].comments.before, vec![" The limit."]);
        assert_eq!(
            d.blocks[1].param("count"),
            Some(&Scalar::plain("floor(rate * 2) * 6"))
        );
        assert!(!d.blocks[2].enabled);
        assert_eq!(d.blocks[2].note.as_deref(), Some("kept"));
        assert_eq!(d.connections[0].comments.after, vec![" first"]);
        assert_eq!(d.layout.positions["src"], [10.0, 20.0]);
        assert_eq!(d.layout.probes[0].kind, "scope");
    }

    #[test]
    fn writes_what_it_reads() {
        let d = Document::parse(SAMPLE).unwrap();
        let again = Document::parse(&d.to_yaml()).unwrap();
        assert_eq!(again, d, "{}", d.to_yaml());
        // And the text is stable after one round.
        assert_eq!(again.to_yaml(), d.to_yaml());
    }

    #[test]
    fn awkward_values_survive() {
        let mut d = Document::parse(SAMPLE).unwrap();
        let b = d.block_mut("src").unwrap();
        b.set_param("a", Some(Scalar::plain("min(1, 2)")));
        b.set_param(
            "b",
            Some(Scalar {
                text: "it's: #x".into(),
                quoted: true,
            }),
        );
        b.set_param("c", Some(Scalar::plain("2,5")));
        b.set_param("d", Some(Scalar::plain("-6")));
        let saved = d.to_yaml();
        let again = Document::parse(&saved).unwrap();
        // The values come back as they were (the block now takes several
        // lines: a comma cannot stand in `{…}`), and the text is stable.
        assert_eq!(again.blocks[0].params, d.blocks[0].params, "{saved}");
        assert_eq!(again.to_yaml(), saved);
    }

    #[test]
    fn the_source_map_names_params() {
        let mut d = Document::parse(SAMPLE).unwrap();
        d.block_mut("limit").unwrap().set_param(
            "extra",
            Some(Scalar::plain(
                "1 + 2 + 3 + 4 + 5 + 6 + 7 + 8 + 9 + 10 + 11 + 12 + 13 + 14 + 15",
            )),
        );
        let (text, map) = d.to_yaml_mapped();
        let line = text.lines().position(|l| l.contains("extra:")).unwrap() + 1;
        let col = text.lines().nth(line - 1).unwrap().find("extra").unwrap() + 1;
        assert_eq!(
            map.at(line, col),
            &Origin::Param("limit".into(), "extra".into())
        );
        // In a one-line block each parameter has its columns.
        let line = text.lines().position(|l| l.contains("id: src")).unwrap() + 1;
        let l = text.lines().nth(line - 1).unwrap();
        let col = l.find("seed: 1").unwrap() + 7;
        assert_eq!(
            map.at(line, col),
            &Origin::Param("src".into(), "seed".into())
        );
        assert_eq!(map.at(line, 3), &Origin::Block("src".into()));
    }

    #[test]
    fn rename_and_remove_follow_connections() {
        let mut d = Document::parse(SAMPLE).unwrap();
        d.rename_block("src", "source");
        assert_eq!(d.connections[0].from, PortRef::new("source", "out"));
        assert_eq!(d.layout.positions["source"], [10.0, 20.0]);
        assert_eq!(d.layout.probes[0].port, "source.out");
        d.remove_block("limit");
        assert!(d.connections.is_empty());
        assert_eq!(d.fresh_id("head"), "head_0");
        assert_eq!(d.fresh_id("../graphs/v90_encoder.yaml"), "v90_encoder_0");
    }

    #[test]
    fn bad_text_is_an_error_with_a_place() {
        let e = Document::parse("blocks: [\n").unwrap_err();
        assert!(e.message.starts_with("YAML"), "{e}");
        let e = Document::parse("blocks: 3\n").unwrap_err();
        assert!(e.message.contains("list"), "{e}");
        let e = Document::parse("connections:\n  - a -> b\n").unwrap_err();
        assert_eq!(e.line, 2, "{e}");
        assert!(Document::parse("- 1\n").is_err());
    }
}
