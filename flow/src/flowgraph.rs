//! YAML flowgraphs: parsing, evaluation of variables and parameters, subgraph
//! (hierarchical block) expansion and complete validation against the registry.
//!
//! Every problem found is reported at once, each at its file:line:col, before
//! anything runs. The result is a flat graph of registered blocks.

use crate::diag::{Diagnostic, Diagnostics, Loc};
use crate::expr;
use crate::item::ItemType;
use crate::registry::{closest, BlockSpec, ParamKind, PortType, Registry};
use crate::value::Value;
use marked_yaml::types::{MarkedMappingNode, MarkedScalarNode};
use marked_yaml::{LoadError, Node as YNode};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

/// Subgraph files may include subgraphs; deeper nesting than this is a loop.
const MAX_DEPTH: usize = 16;

const TOP_KEYS: &[&str] = &[
    "name",
    "description",
    "variables",
    "blocks",
    "connections",
    "inputs",
    "outputs",
    "layout",
];
const BLOCK_KEYS: &[&str] = &["id", "type", "params", "enabled", "comment", "layout"];

/// One registered block in a loaded graph.
#[derive(Clone, Debug)]
pub struct Node {
    /// Unique id; blocks from a subgraph are named `outer/inner`.
    pub id: String,
    pub spec: BlockSpec,
    pub params: BTreeMap<String, Value>,
    pub input_types: Vec<ItemType>,
    pub output_types: Vec<ItemType>,
    /// Where the block is declared.
    pub loc: Loc,
    /// Where its outermost enclosing block is declared in the top-level file.
    pub origin: Loc,
}

/// A stream connection from an output port to an input port (node, port).
#[derive(Clone, Debug, PartialEq)]
pub struct Edge {
    pub from: (usize, usize),
    pub to: (usize, usize),
    pub loc: Loc,
}

/// A validated, flattened flowgraph, ready to instantiate.
#[derive(Clone, Debug)]
pub struct Flowgraph {
    pub name: String,
    pub description: String,
    pub file: String,
    pub variables: BTreeMap<String, Value>,
    pub nodes: Vec<Node>,
    pub edges: Vec<Edge>,
    /// The outputs of subgraph blocks (`receiver.cp`, also nested ones such
    /// as `rx/inner.cp`) and the block output inside that carries them, so
    /// a probe can name a subgraph's output even when nothing is connected
    /// to it.
    pub exports: BTreeMap<String, (usize, usize)>,
}

impl Flowgraph {
    /// The graph's name, or its file when it has none.
    pub fn name_or_file(&self) -> &str {
        if self.name.is_empty() {
            &self.file
        } else {
            &self.name
        }
    }

    pub fn node(&self, id: &str) -> Option<usize> {
        self.nodes.iter().position(|n| n.id == id)
    }

    /// `block.port` of an output, as users write it.
    pub fn output_name(&self, (n, p): (usize, usize)) -> String {
        format!(
            "{}.{}",
            self.nodes[n].id, self.nodes[n].spec.outputs[p].name
        )
    }

    pub fn input_name(&self, (n, p): (usize, usize)) -> String {
        format!("{}.{}", self.nodes[n].id, self.nodes[n].spec.inputs[p].name)
    }

    /// Finds an output port by its `block.port` name; a subgraph block's
    /// output is found where it comes from inside.
    pub fn find_output(&self, name: &str) -> Option<(usize, usize)> {
        if let Some(&t) = self.exports.get(name) {
            return Some(t);
        }
        let (b, p) = name.rsplit_once('.')?;
        let n = self.node(b)?;
        let i = self.nodes[n]
            .spec
            .outputs
            .iter()
            .position(|o| o.name == p)?;
        Some((n, i))
    }

    /// Makes every block, reporting every factory error (missing file, bad
    /// coefficient list, …) at the block's place in the file.
    pub fn instantiate(&self) -> Result<Vec<Box<dyn crate::Block>>, Diagnostics> {
        let mut blocks = Vec::new();
        let mut errs = Vec::new();
        for n in &self.nodes {
            let args = crate::registry::BlockArgs {
                id: n.id.clone(),
                params: n.params.clone(),
                input_types: n.input_types.clone(),
                output_types: n.output_types.clone(),
            };
            match (n.spec.factory)(&args) {
                Ok(b) => blocks.push(b),
                Err(e) => errs.push(
                    n.loc
                        .error(format!("block `{}` ({}): {e}", n.id, n.spec.name))
                        .block(n.id.clone()),
                ),
            }
        }
        if errs.is_empty() {
            Ok(blocks)
        } else {
            Err(Diagnostics(errs))
        }
    }
}

/// Loads and validates a flowgraph file. `overrides` are `--set NAME=VALUE`.
pub fn load_file(
    path: &Path,
    registry: &Registry,
    overrides: &[(String, String)],
) -> Result<Flowgraph, Diagnostics> {
    let label = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| {
        Diagnostics(vec![Loc {
            file: label.clone(),
            line: 1,
            col: 1,
        }
        .error(format!("cannot read the flowgraph: {e}"))
        .hint(
            "check the path; flowgraphs are YAML files such as graphs/scrambler_ber.yaml",
        )])
    })?;
    let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
    load_str(&text, &label, &base, registry, overrides)
}

/// Loads and validates flowgraph text; `file` is the name used in messages and
/// `base_dir` resolves relative paths and subgraph files.
pub fn load_str(
    text: &str,
    file: &str,
    base_dir: &Path,
    registry: &Registry,
    overrides: &[(String, String)],
) -> Result<Flowgraph, Diagnostics> {
    let mut cx = Cx {
        registry,
        errs: Vec::new(),
        stack: vec![file.to_string()],
        excused: Vec::new(),
    };
    let mut ov = BTreeMap::new();
    let set_loc = Loc {
        file: "--set".into(),
        line: 1,
        col: 1,
    };
    // A path given on the command line means a file in the current directory.
    for (k, v) in overrides {
        let origin = Loc {
            file: format!("--set {k}"),
            line: 1,
            col: 1,
        };
        ov.insert(
            k.clone(),
            Override {
                raw: literal_or_expr(v, false),
                key: set_loc.clone(),
                origin,
                base: PathBuf::new(),
            },
        );
    }
    let sub = cx.load(text, file, base_dir, ov, "", None, 0);
    let Some(sub) = sub else {
        return Err(Diagnostics(cx.errs));
    };
    let mut g = Flowgraph {
        name: sub.name,
        description: sub.description,
        file: file.to_string(),
        variables: sub.variables,
        nodes: sub.nodes,
        edges: sub.edges,
        exports: sub.exports,
    };
    cx.excused = sub.excused;
    // A subgraph file checked or run on its own: its declared ports are its
    // interface, not forgotten connections.
    cx.excused
        .extend(sub.ext_in.values().map(|(t, _)| (*t, true)));
    cx.excused
        .extend(sub.ext_out.values().map(|(t, _)| (*t, false)));
    cx.check_connectivity(&g);
    cx.resolve_types(&mut g);
    cx.check_cycles(&g);
    if cx.errs.is_empty() {
        Ok(g)
    } else {
        let mut errs = cx.errs;
        errs.sort_by(|a, b| {
            (a.file != file, &a.file, a.line, a.col).cmp(&(b.file != file, &b.file, b.line, b.col))
        });
        errs.dedup();
        Err(Diagnostics(errs))
    }
}

/// Where each variable's value was written: the directory its paths are
/// relative to (the file that wrote it, the current directory for `--set`,
/// and for a subgraph's parameter the place its value came from) and the
/// place itself, for messages. A variable that is just another variable's
/// name takes that variable's provenance.
struct Provenance(BTreeMap<String, (PathBuf, Loc)>);

impl Provenance {
    fn new() -> Self {
        Provenance(BTreeMap::new())
    }
    fn insert(&mut self, name: String, base: PathBuf, origin: Loc) {
        self.0.insert(name, (base, origin));
    }
    /// The directory for a value written as `text` in a file in `file_dir`.
    fn base(&self, text: &str, file_dir: &Path) -> PathBuf {
        self.0
            .get(text.trim())
            .map(|(b, _)| b.clone())
            .unwrap_or_else(|| file_dir.to_path_buf())
    }
    /// Where the value written as `text` at `here` really comes from.
    fn origin(&self, text: &str, here: &Loc) -> Loc {
        self.0
            .get(text.trim())
            .map(|(_, l)| l.clone())
            .unwrap_or_else(|| here.clone())
    }
}

/// A value set from outside a file: `--set`, or a subgraph's parameter.
#[derive(Clone, Debug)]
struct Override {
    raw: Raw,
    /// Where the name was written (for "unknown variable" errors).
    key: Loc,
    /// Where the value comes from, and the directory its paths are relative to.
    origin: Loc,
    base: PathBuf,
}

/// ", set at FILE:LINE:COL" when a parameter's value came from another place
/// (a variable, `--set`, or the file that uses a subgraph), else nothing.
fn from_elsewhere(name: &str, (written, origin): &(Loc, Loc)) -> String {
    if written == origin {
        String::new()
    } else if origin.file.starts_with("--set") {
        format!("; the value of `{name}` comes from `{}`", origin.file)
    } else {
        format!(
            "; the value of `{name}` comes from {}:{}:{}",
            origin.file, origin.line, origin.col
        )
    }
}

/// The parameter's description, for the hint of a combination error.
fn message_fix(spec: &BlockSpec, name: &str) -> String {
    spec.param_spec(name)
        .map(describe_param)
        .unwrap_or_default()
}

/// An input path made relative to where it was written (see [`ParamKind::Path`]).
fn resolve_path(val: Value, base: &Path) -> Value {
    match &val {
        Value::Str(s) if !s.is_empty() && !Path::new(s).is_absolute() => {
            Value::Str(base.join(s).display().to_string())
        }
        _ => val,
    }
}

/// A raw value waiting to be evaluated: text, and whether YAML quoted it.
#[derive(Clone, Debug)]
struct Raw {
    text: String,
    quoted: bool,
}

fn literal_or_expr(text: &str, quoted: bool) -> Raw {
    Raw {
        text: text.to_string(),
        quoted,
    }
}

struct Sub {
    name: String,
    description: String,
    variables: BTreeMap<String, Value>,
    nodes: Vec<Node>,
    edges: Vec<Edge>,
    ext_in: BTreeMap<String, ((usize, usize), Loc)>,
    ext_out: BTreeMap<String, ((usize, usize), Loc)>,
    /// Subgraph blocks' outputs by `id.port` (see [`Flowgraph::exports`]).
    exports: BTreeMap<String, (usize, usize)>,
    /// Ports whose connection went to a block that is already in error; not
    /// reported again as unconnected or untyped. `true` for inputs.
    excused: Vec<((usize, usize), bool)>,
}

enum Local {
    Native(usize),
    Hier {
        ext_in: BTreeMap<String, ((usize, usize), Loc)>,
        ext_out: BTreeMap<String, ((usize, usize), Loc)>,
    },
    Disabled,
    Broken,
}

struct Cx<'r> {
    registry: &'r Registry,
    errs: Vec<Diagnostic>,
    stack: Vec<String>,
    excused: Vec<((usize, usize), bool)>,
}

fn loc_at(file: &str, m: Option<&marked_yaml::Marker>) -> Loc {
    Loc {
        file: file.to_string(),
        line: m.map_or(1, |m| m.line()),
        col: m.map_or(1, |m| m.column()),
    }
}

fn loc_of(file: &str, span: &marked_yaml::Span) -> Loc {
    loc_at(file, span.start())
}

fn scalar_loc(file: &str, s: &MarkedScalarNode) -> Loc {
    loc_of(file, s.span())
}

fn yaml_error(file: &str, e: &LoadError) -> Diagnostic {
    let (m, msg) = match e {
        LoadError::TopLevelMustBeMapping(m) => (
            Some(*m),
            "a flowgraph must be a YAML mapping with `blocks:` and `connections:`".to_string(),
        ),
        LoadError::TopLevelMustBeSequence(m) => (Some(*m), "unexpected top level".to_string()),
        LoadError::UnexpectedAnchor(m) => (
            Some(*m),
            "YAML anchors are not supported in flowgraphs".to_string(),
        ),
        LoadError::MappingKeyMustBeScalar(m) => {
            (Some(*m), "mapping keys must be plain names".to_string())
        }
        LoadError::UnexpectedTag(m) => (
            Some(*m),
            "YAML tags are not supported in flowgraphs".to_string(),
        ),
        LoadError::ScanError(m, s) => (Some(*m), format!("YAML syntax: {}", s.info())),
        LoadError::DuplicateKey(d) => (
            d.key.span().start().copied(),
            format!("duplicate key `{}`", d.key.as_str()),
        ),
    };
    let loc = loc_at(file, m.as_ref());
    loc.error(msg)
        .hint("see docs/flowgraph-format.md for the file layout")
}

fn is_identifier(s: &str) -> bool {
    let mut c = s.chars();
    matches!(c.next(), Some(ch) if ch.is_ascii_alphabetic() || ch == '_')
        && c.all(|ch| ch.is_ascii_alphanumeric() || ch == '_')
}

/// Whether a scalar that failed to evaluate should be taken as plain text:
/// one word such as `call.wav`, `mu` or `/tmp/x-1.wav`, with no arithmetic.
fn is_plain_word(s: &str) -> bool {
    !s.is_empty() && !s.contains(|c: char| c.is_whitespace() || "*()%,+\"'".contains(c))
}

/// A word, or words separated by commas (`v34,v21`, `v34, v21`): text, since
/// an expression has commas only inside a function's parentheses.
fn is_plain_text(s: &str) -> bool {
    s.split(',').all(|w| is_plain_word(w.trim()))
}

impl Cx<'_> {
    fn err(&mut self, d: Diagnostic) {
        self.errs.push(d);
    }

    /// Evaluates a variable or `--set` value: quoted text is a string; anything
    /// else is an expression, or plain text if it is a word or a comma-separated
    /// list of words.
    fn eval_variable(
        &mut self,
        raw: &Raw,
        scope: &BTreeMap<String, Value>,
        loc: &Loc,
    ) -> Option<Value> {
        if raw.quoted {
            return Some(Value::Str(raw.text.clone()));
        }
        match expr::eval(&raw.text, scope) {
            Ok(v) => Some(v),
            Err(_) if is_plain_text(&raw.text) => Some(Value::Str(raw.text.clone())),
            Err(e) => {
                self.err(loc.shifted(e.offset).error(e.message).hint_opt(e.hint));
                None
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn load(
        &mut self,
        text: &str,
        file: &str,
        base_dir: &Path,
        overrides: BTreeMap<String, Override>,
        prefix: &str,
        origin: Option<&Loc>,
        depth: usize,
    ) -> Option<Sub> {
        let root = match marked_yaml::parse_yaml_with_options(
            0,
            text,
            // prevent_coercion records which scalars YAML quoted: those are text.
            marked_yaml::LoaderOptions::default()
                .error_on_duplicate_keys(true)
                .prevent_coercion(true),
        ) {
            Ok(r) => r,
            Err(e) => {
                self.err(yaml_error(file, &e));
                return None;
            }
        };
        let Some(top) = root.as_mapping() else {
            self.err(loc_of(file, root.span()).error("a flowgraph must be a YAML mapping"));
            return None;
        };
        for (k, _) in top.iter() {
            if !TOP_KEYS.contains(&k.as_str()) {
                let hint = closest(k.as_str(), TOP_KEYS.iter().copied())
                    .map(|c| format!("did you mean `{c}`?"))
                    .unwrap_or_else(|| format!("allowed keys: {}", TOP_KEYS.join(", ")));
                self.err(
                    scalar_loc(file, k)
                        .error(format!("unknown key `{}`", k.as_str()))
                        .hint(hint),
                );
            }
        }
        let text_of = |key: &str| -> String {
            top.get_scalar(key)
                .map(|s| s.as_str().to_string())
                .unwrap_or_default()
        };
        let name = text_of("name");
        let description = text_of("description");

        // Variables, in order; each may use the ones before it.
        let mut variables: BTreeMap<String, Value> = BTreeMap::new();
        let mut bases = Provenance::new();
        let mut declared = Vec::new();
        if let Some(vnode) = top.get_node("variables") {
            match vnode.as_mapping() {
                Some(vm) => {
                    for (k, v) in vm.iter() {
                        let kl = scalar_loc(file, k);
                        if !is_identifier(k.as_str()) {
                            self.err(
                                kl.error(format!("`{}` is not a valid variable name", k.as_str()))
                                    .hint("use letters, digits and _ , starting with a letter"),
                            );
                            continue;
                        }
                        declared.push(k.as_str().to_string());
                        let (raw, loc, base, origin) = match overrides.get(k.as_str()) {
                            Some(o) => (
                                o.raw.clone(),
                                o.key.clone(),
                                o.base.clone(),
                                o.origin.clone(),
                            ),
                            None => match v.as_scalar() {
                                Some(s) => (
                                    literal_or_expr(s.as_str(), !s.may_coerce()),
                                    scalar_loc(file, s),
                                    bases.base(s.as_str(), base_dir),
                                    bases.origin(s.as_str(), &scalar_loc(file, s)),
                                ),
                                None => {
                                    self.err(loc_of(file, v.span()).error(format!(
                                        "variable `{}` must be a single value",
                                        k.as_str()
                                    )));
                                    continue;
                                }
                            },
                        };
                        if let Some(val) = self.eval_variable(&raw, &variables, &loc) {
                            variables.insert(k.as_str().to_string(), val);
                            bases.insert(k.as_str().to_string(), base, origin);
                        }
                    }
                }
                None => self.err(
                    loc_of(file, vnode.span())
                        .error("`variables` must be a mapping of NAME: VALUE"),
                ),
            }
        }
        for (k, Override { key: loc, .. }) in &overrides {
            if !declared.contains(k) {
                if depth == 0 {
                    let hint = closest(k, declared.iter().map(|s| s.as_str()))
                        .map(|c| format!("did you mean `{c}`?"))
                        .unwrap_or_else(|| {
                            if declared.is_empty() {
                                "this flowgraph declares no variables".into()
                            } else {
                                format!("its variables are: {}", declared.join(", "))
                            }
                        });
                    self.err(
                        loc.error(format!("`{k}` is not a variable of {file}"))
                            .hint(hint),
                    );
                } else {
                    let hint = format!(
                        "this subgraph's parameters are its variables: {}",
                        if declared.is_empty() {
                            "none".into()
                        } else {
                            declared.join(", ")
                        }
                    );
                    self.err(
                        loc.error(format!("unknown parameter `{k}` for subgraph {file}"))
                            .hint(hint),
                    );
                }
            }
        }

        let mut sub = Sub {
            name,
            description,
            variables: variables.clone(),
            nodes: Vec::new(),
            edges: Vec::new(),
            ext_in: BTreeMap::new(),
            ext_out: BTreeMap::new(),
            exports: BTreeMap::new(),
            excused: Vec::new(),
        };
        let mut locals: HashMap<String, (Local, Loc)> = HashMap::new();

        // Blocks.
        match top.get_node("blocks") {
            None => self.err(
                loc_of(file, top.span())
                    .error("the flowgraph has no `blocks:` list")
                    .hint("add `blocks:` with entries such as `- {id: src, type: prbs_source}`"),
            ),
            Some(bn) => match bn.as_sequence() {
                None => self.err(loc_of(file, bn.span()).error("`blocks` must be a list")),
                Some(seq) => {
                    for item in seq.iter() {
                        let Some(bm) = item.as_mapping() else {
                            self.err(
                                loc_of(file, item.span())
                                    .error("each block must be a mapping with `id` and `type`"),
                            );
                            continue;
                        };
                        self.load_block(
                            bm,
                            file,
                            base_dir,
                            &variables,
                            &bases,
                            prefix,
                            origin,
                            depth,
                            &mut sub,
                            &mut locals,
                        );
                    }
                }
            },
        }

        // Connections.
        if let Some(cn) = top.get_node("connections") {
            match cn.as_sequence() {
                None => self.err(
                    loc_of(file, cn.span())
                        .error("`connections` must be a list of `a.out -> b.in`"),
                ),
                Some(seq) => {
                    for item in seq.iter() {
                        let Some(s) = item.as_scalar() else {
                            self.err(
                                loc_of(file, item.span())
                                    .error("a connection is written `block.port -> block.port`"),
                            );
                            continue;
                        };
                        self.load_connection(s, file, &locals, &mut sub);
                    }
                }
            }
        }

        // External ports of a subgraph.
        for (key, is_input) in [("inputs", true), ("outputs", false)] {
            let Some(pn) = top.get_node(key) else {
                continue;
            };
            let Some(seq) = pn.as_sequence() else {
                self.err(loc_of(file, pn.span()).error(format!(
                    "`{key}` must be a list of {{name: NAME, port: block.port}}"
                )));
                continue;
            };
            for item in seq.iter() {
                let loc = loc_of(file, item.span());
                let Some(m) = item.as_mapping() else {
                    self.err(loc.error(format!(
                        "each entry of `{key}` is {{name: NAME, port: block.port}}"
                    )));
                    continue;
                };
                let (Some(n), Some(p)) = (m.get_scalar("name"), m.get_scalar("port")) else {
                    self.err(loc.error(format!("each entry of `{key}` needs `name` and `port`")));
                    continue;
                };
                let ploc = scalar_loc(file, p);
                if let Some(target) =
                    self.resolve_endpoint(p.as_str(), &ploc, &locals, &sub.nodes, is_input)
                {
                    let map = if is_input {
                        &mut sub.ext_in
                    } else {
                        &mut sub.ext_out
                    };
                    if map.insert(n.as_str().to_string(), (target, ploc)).is_some() {
                        self.err(
                            scalar_loc(file, n)
                                .error(format!("port `{}` is declared twice", n.as_str())),
                        );
                    }
                }
            }
        }
        Some(sub)
    }

    #[allow(clippy::too_many_arguments)]
    fn load_block(
        &mut self,
        bm: &MarkedMappingNode,
        file: &str,
        base_dir: &Path,
        variables: &BTreeMap<String, Value>,
        bases: &Provenance,
        prefix: &str,
        origin: Option<&Loc>,
        depth: usize,
        sub: &mut Sub,
        locals: &mut HashMap<String, (Local, Loc)>,
    ) {
        let bloc = loc_of(file, bm.span());
        for (k, _) in bm.iter() {
            if !BLOCK_KEYS.contains(&k.as_str()) {
                let hint = closest(k.as_str(), BLOCK_KEYS.iter().copied())
                    .map(|c| format!("did you mean `{c}`?"))
                    .unwrap_or_else(|| format!("allowed keys: {}", BLOCK_KEYS.join(", ")));
                self.err(
                    scalar_loc(file, k)
                        .error(format!("unknown block key `{}`", k.as_str()))
                        .hint(hint),
                );
            }
        }
        let Some(id_node) = bm.get_scalar("id") else {
            self.err(
                bloc.error("block has no `id`")
                    .hint("give every block a unique `id: name`"),
            );
            return;
        };
        let id = id_node.as_str().to_string();
        let idloc = scalar_loc(file, id_node);
        if !is_identifier(&id) {
            self.err(
                idloc
                    .error(format!("`{id}` is not a valid block id"))
                    .hint("use letters, digits and _ , starting with a letter"),
            );
            return;
        }
        if let Some((_, prev)) = locals.get(&id) {
            let prev = prev.clone();
            self.err(
                idloc
                    .error(format!("duplicate block id `{id}`"))
                    .hint(format!(
                        "it is already used at line {}; ids must be unique",
                        prev.line
                    ))
                    .block(format!("{prefix}{id}")),
            );
            return;
        }
        let full_id = format!("{prefix}{id}");
        let here_origin = origin.cloned().unwrap_or_else(|| idloc.clone());
        let enabled = match bm.get_scalar("enabled") {
            None => true,
            Some(s) => match s.as_bool() {
                Some(b) => b,
                None => {
                    self.err(
                        scalar_loc(file, s)
                            .error("`enabled` must be true or false")
                            .block(full_id.clone()),
                    );
                    true
                }
            },
        };
        if !enabled {
            locals.insert(id, (Local::Disabled, idloc));
            return;
        }
        let Some(type_node) = bm.get_scalar("type") else {
            self.err(
                bloc.error(format!("block `{id}` has no `type`"))
                    .hint("run `modemflow blocks` to list the block types")
                    .block(full_id),
            );
            locals.insert(id, (Local::Broken, idloc));
            return;
        };
        let tname = type_node.as_str();
        let tloc = scalar_loc(file, type_node);
        let params_node = bm.get_node("params");
        let params_map = match params_node {
            None => None,
            Some(p) => match p.as_mapping() {
                Some(m) => Some(m),
                None => {
                    self.err(
                        loc_of(file, p.span())
                            .error("`params` must be a mapping of NAME: VALUE")
                            .block(full_id.clone()),
                    );
                    None
                }
            },
        };

        if tname.ends_with(".yaml") || tname.ends_with(".yml") {
            // A subgraph file used as a block: its variables are its parameters.
            let path = base_dir.join(tname);
            let label = path.display().to_string();
            if depth + 1 >= MAX_DEPTH || self.stack.contains(&label) {
                self.err(
                    tloc.error(format!("subgraph `{tname}` includes itself"))
                        .hint("a subgraph cannot contain itself, directly or through others")
                        .block(full_id),
                );
                locals.insert(id, (Local::Broken, idloc));
                return;
            }
            let text = match std::fs::read_to_string(&path) {
                Ok(t) => t,
                Err(e) => {
                    self.err(
                        tloc.error(format!("cannot read subgraph `{}`: {e}", path.display()))
                            .hint("subgraph paths are relative to the file that uses them")
                            .block(full_id),
                    );
                    locals.insert(id, (Local::Broken, idloc));
                    return;
                }
            };
            let mut ov = BTreeMap::new();
            if let Some(pm) = params_map {
                for (k, v) in pm.iter() {
                    let Some(s) = v.as_scalar() else {
                        self.err(
                            loc_of(file, v.span()).error(format!(
                                "parameter `{}` must be a single value",
                                k.as_str()
                            )),
                        );
                        continue;
                    };
                    let sloc = scalar_loc(file, s);
                    // Evaluate in this file's scope, pass the result down as text.
                    if let Some(val) = self.eval_variable(
                        &literal_or_expr(s.as_str(), !s.may_coerce()),
                        variables,
                        &sloc,
                    ) {
                        let quoted = matches!(val, Value::Str(_));
                        ov.insert(
                            k.as_str().to_string(),
                            Override {
                                raw: Raw {
                                    text: val.to_string(),
                                    quoted,
                                },
                                key: scalar_loc(file, k),
                                origin: bases.origin(s.as_str(), &sloc),
                                base: bases.base(s.as_str(), base_dir),
                            },
                        );
                    }
                }
            }
            let sub_base = path.parent().map(Path::to_path_buf).unwrap_or_default();
            self.stack.push(label.clone());
            let inner = self.load(
                &text,
                &label,
                &sub_base,
                ov,
                &format!("{full_id}/"),
                Some(&here_origin),
                depth + 1,
            );
            self.stack.pop();
            let Some(inner) = inner else {
                locals.insert(id, (Local::Broken, idloc));
                return;
            };
            let off = sub.nodes.len();
            let shift = |(n, p): (usize, usize)| (n + off, p);
            sub.nodes.extend(inner.nodes);
            for e in inner.edges {
                sub.edges.push(Edge {
                    from: shift(e.from),
                    to: shift(e.to),
                    loc: e.loc,
                });
            }
            sub.excused
                .extend(inner.excused.into_iter().map(|(t, i)| (shift(t), i)));
            let ext_in = inner
                .ext_in
                .into_iter()
                .map(|(k, (t, l))| (k, (shift(t), l)))
                .collect();
            let ext_out: BTreeMap<String, ((usize, usize), Loc)> = inner
                .ext_out
                .into_iter()
                .map(|(k, (t, l))| (k, (shift(t), l)))
                .collect();
            sub.exports
                .extend(inner.exports.into_iter().map(|(k, t)| (k, shift(t))));
            sub.exports.extend(
                ext_out
                    .iter()
                    .map(|(k, (t, _))| (format!("{full_id}.{k}"), *t)),
            );
            locals.insert(id, (Local::Hier { ext_in, ext_out }, idloc));
            return;
        }

        let Some(spec) = self.registry.get(tname) else {
            let hint = match self.registry.suggest(tname) {
                Some(s) => format!("did you mean `{s}`? (`modemflow blocks` lists all types)"),
                None => "run `modemflow blocks` to list the block types, or give a subgraph file ending in .yaml".into(),
            };
            self.err(
                tloc.error(format!("unknown block type `{tname}`"))
                    .hint(hint)
                    .block(full_id),
            );
            locals.insert(id, (Local::Broken, idloc));
            return;
        };

        let mut params = BTreeMap::new();
        // Where each parameter was written, and where its value comes from.
        let mut written: BTreeMap<&str, (Loc, Loc)> = BTreeMap::new();
        let errors_before = self.errs.len();
        if let Some(pm) = params_map {
            for (k, v) in pm.iter() {
                let kloc = scalar_loc(file, k);
                let Some(ps) = spec.param_spec(k.as_str()) else {
                    let names: Vec<&str> = spec.params.iter().map(|p| p.name).collect();
                    let hint = closest(k.as_str(), names.iter().copied())
                        .map(|c| format!("did you mean `{c}`?"))
                        .unwrap_or_else(|| {
                            if names.is_empty() {
                                format!("`{tname}` takes no parameters")
                            } else {
                                format!("`{tname}` takes: {}", names.join(", "))
                            }
                        });
                    self.err(
                        kloc.error(format!(
                            "unknown parameter `{}` for block type `{tname}`",
                            k.as_str()
                        ))
                        .hint(hint)
                        .block(full_id.clone()),
                    );
                    continue;
                };
                if let Some((val, vloc)) = self.param_value(ps, v, file, variables) {
                    let origin = v
                        .as_scalar()
                        .map_or(vloc.clone(), |s| bases.origin(s.as_str(), &vloc));
                    written.insert(ps.name, (vloc.clone(), origin));
                    match ps.check(&val) {
                        Ok(val) => {
                            let val = match (&ps.kind, v.as_scalar()) {
                                (ParamKind::Path, Some(s)) => {
                                    resolve_path(val, &bases.base(s.as_str(), base_dir))
                                }
                                _ => val,
                            };
                            params.insert(ps.name.to_string(), val);
                        }
                        Err(m) => {
                            let hint =
                                describe_param(ps) + &from_elsewhere(ps.name, &written[ps.name]);
                            self.err(
                                vloc.error(format!("block `{id}`: {m}"))
                                    .hint(hint)
                                    .block(full_id.clone()),
                            )
                        }
                    }
                }
            }
        }
        for ps in &spec.params {
            if !params.contains_key(ps.name) {
                match &ps.default {
                    Some(d) => {
                        params.insert(ps.name.to_string(), d.clone());
                    }
                    None => {
                        if params_map.is_some_and(|m| m.get_node(ps.name).is_some()) {
                            continue;
                        }
                        self.err(
                            tloc.error(format!(
                                "block `{id}` ({tname}) needs parameter `{}`",
                                ps.name
                            ))
                            .hint(format!(
                                "add `params: {{{}: …}}`; {}",
                                ps.name,
                                describe_param(ps)
                            ))
                            .block(full_id.clone()),
                        );
                    }
                }
            }
        }
        // Combinations the parameters' own ranges cannot express (a rate
        // that the chosen symbol rate does not allow), checked once every
        // parameter is valid on its own, and reported at the parameter named.
        if let (Some(check), true) = (spec.check, self.errs.len() == errors_before) {
            if let Err((name, message)) = check(&params) {
                let (at, hint) = match written.get(name) {
                    Some(w) => (w.0.clone(), from_elsewhere(name, w)),
                    None => (
                        tloc.clone(),
                        format!("; `{name}` is at its default: set it under `params:`"),
                    ),
                };
                self.err(
                    at.error(format!("block `{id}`: {message}"))
                        .hint(format!("{}{hint}", message_fix(spec, name)))
                        .block(full_id.clone()),
                );
            }
        }
        let idx = sub.nodes.len();
        sub.nodes.push(Node {
            id: full_id,
            spec: spec.clone(),
            params,
            input_types: Vec::new(),
            output_types: Vec::new(),
            loc: tloc,
            origin: here_origin,
        });
        locals.insert(id, (Local::Native(idx), idloc));
    }

    /// Evaluates one parameter value according to its kind.
    fn param_value(
        &mut self,
        ps: &crate::registry::ParamSpec,
        v: &YNode,
        file: &str,
        variables: &BTreeMap<String, Value>,
    ) -> Option<(Value, Loc)> {
        let vloc = loc_of(file, v.span());
        let textual = matches!(
            ps.kind,
            ParamKind::Str | ParamKind::Path | ParamKind::OutputPath | ParamKind::Choice(_)
        );
        let s = match v {
            YNode::Scalar(s) => s,
            YNode::Sequence(seq) if textual => {
                let parts: Vec<String> = seq
                    .iter()
                    .filter_map(|n| n.as_scalar().map(|s| s.as_str().to_string()))
                    .collect();
                return Some((Value::Str(parts.join(", ")), vloc));
            }
            _ => {
                self.err(vloc.error(format!("parameter `{}` must be a single value", ps.name)));
                return None;
            }
        };
        let text = s.as_str();
        if textual {
            // Text is literal, except a bare variable name (which takes the
            // variable's value) and `${name}` inside it.
            if !s.may_coerce() {
                return Some((Value::Str(text.to_string()), vloc));
            }
            if let Some(val) = variables.get(text) {
                return Some((val.clone(), vloc));
            }
            return self
                .interpolate(text, variables, &vloc)
                .map(|t| (Value::Str(t), vloc));
        }
        if !s.may_coerce() {
            return Some((Value::Str(text.to_string()), vloc));
        }
        match expr::eval(text, variables) {
            Ok(val) => Some((val, vloc)),
            Err(e) => {
                self.err(
                    vloc.shifted(e.offset)
                        .error(format!("parameter `{}`: {}", ps.name, e.message))
                        .hint_opt(e.hint),
                );
                None
            }
        }
    }

    fn interpolate(
        &mut self,
        text: &str,
        variables: &BTreeMap<String, Value>,
        loc: &Loc,
    ) -> Option<String> {
        let mut out = String::new();
        let mut rest = text;
        let mut consumed = 0;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let Some(end) = after.find('}') else {
                self.err(
                    loc.shifted(consumed + start)
                        .error("`${` without a closing `}`"),
                );
                return None;
            };
            let name = after[..end].trim();
            match variables.get(name) {
                Some(v) => out.push_str(&v.to_string()),
                None => {
                    let hint = closest(name, variables.keys().map(|k| k.as_str()))
                        .map(|c| format!("did you mean `{c}`?"))
                        .unwrap_or_else(|| {
                            "declare it under `variables:` or pass --set NAME=VALUE".into()
                        });
                    self.err(
                        loc.shifted(consumed + start + 2)
                            .error(format!("undefined variable `{name}`"))
                            .hint(hint),
                    );
                    return None;
                }
            }
            consumed += start + 2 + end + 1;
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        Some(out)
    }

    fn load_connection(
        &mut self,
        s: &MarkedScalarNode,
        file: &str,
        locals: &HashMap<String, (Local, Loc)>,
        sub: &mut Sub,
    ) {
        let loc = scalar_loc(file, s);
        let text = s.as_str();
        let Some(arrow) = text.find("->") else {
            self.err(
                loc.error(format!("`{text}` is not a connection"))
                    .hint("write connections as `block.port -> block.port`"),
            );
            return;
        };
        let lhs = &text[..arrow];
        let rhs = &text[arrow + 2..];
        let l_off = lhs.len() - lhs.trim_start().len();
        let r_off = arrow + 2 + (rhs.len() - rhs.trim_start().len());
        let from =
            self.resolve_endpoint(lhs.trim(), &loc.shifted(l_off), locals, &sub.nodes, false);
        let to = self.resolve_endpoint(rhs.trim(), &loc.shifted(r_off), locals, &sub.nodes, true);
        let broken = |side: &str| {
            let b = side.trim().split('.').next().unwrap_or("");
            matches!(locals.get(b), Some((Local::Broken, _)))
        };
        match (from, to) {
            (Some(from), Some(to)) => sub.edges.push(Edge { from, to, loc }),
            (Some(from), None) if broken(rhs) => sub.excused.push((from, false)),
            (None, Some(to)) if broken(lhs) => sub.excused.push((to, true)),
            _ => {}
        }
    }

    /// Resolves `block.port` to a node port. `None` when it is an error (already
    /// reported) or when the block is disabled (its connections are dropped).
    fn resolve_endpoint(
        &mut self,
        text: &str,
        loc: &Loc,
        locals: &HashMap<String, (Local, Loc)>,
        nodes: &[Node],
        input: bool,
    ) -> Option<(usize, usize)> {
        let dir = if input { "input" } else { "output" };
        let Some((b, p)) = text.split_once('.') else {
            self.err(
                loc.error(format!("`{text}` does not name a port"))
                    .hint(format!(
                        "write `block.port`, e.g. `{text}.{}`",
                        if input { "in" } else { "out" }
                    )),
            );
            return None;
        };
        let Some((local, _)) = locals.get(b) else {
            let hint = closest(b, locals.keys().map(|k| k.as_str()))
                .map(|c| format!("did you mean `{c}`?"))
                .unwrap_or_else(|| "declare the block under `blocks:`".into());
            self.err(loc.error(format!("no block with id `{b}`")).hint(hint));
            return None;
        };
        match local {
            Local::Disabled | Local::Broken => None,
            Local::Native(n) => {
                let spec = &nodes[*n].spec;
                let ports = if input { &spec.inputs } else { &spec.outputs };
                match ports.iter().position(|x| x.name == p) {
                    Some(i) => Some((*n, i)),
                    None => {
                        let names: Vec<&str> = ports.iter().map(|x| x.name).collect();
                        let other: Vec<&str> = if input { &spec.outputs } else { &spec.inputs }
                            .iter()
                            .map(|x| x.name)
                            .collect();
                        let hint = if names.is_empty() {
                            format!("`{b}` has no {dir}s")
                        } else if other.contains(&p) {
                            format!(
                                "`{p}` is an {} of `{b}`; its {dir}s are: {}",
                                if input { "output" } else { "input" },
                                names.join(", ")
                            )
                        } else {
                            format!("{dir}s of `{b}`: {}", names.join(", "))
                        };
                        self.err(
                            loc.shifted(b.len() + 1)
                                .error(format!("block `{b}` has no {dir} port `{p}`"))
                                .hint(hint)
                                .block(b.to_string()),
                        );
                        None
                    }
                }
            }
            Local::Hier { ext_in, ext_out } => {
                let map = if input { ext_in } else { ext_out };
                match map.get(p) {
                    Some((t, _)) => Some(*t),
                    None => {
                        let names: Vec<&str> = map.keys().map(|k| k.as_str()).collect();
                        self.err(
                            loc.shifted(b.len() + 1)
                                .error(format!("subgraph block `{b}` has no {dir} port `{p}`"))
                                .hint(if names.is_empty() {
                                    format!("the subgraph declares no {dir}s")
                                } else {
                                    format!("its {dir}s: {}", names.join(", "))
                                }),
                        );
                        None
                    }
                }
            }
        }
    }

    /// Every input connected exactly once (unless optional); every output used.
    fn check_connectivity(&mut self, g: &Flowgraph) {
        let mut feeds: HashMap<(usize, usize), &Edge> = HashMap::new();
        let mut used_out: HashMap<(usize, usize), usize> = HashMap::new();
        for e in &g.edges {
            if let Some(prev) = feeds.get(&e.to) {
                self.err(e.loc.error(format!(
                    "input `{}` is connected twice (also from `{}` at line {})",
                    g.input_name(e.to), g.output_name(prev.from), prev.loc.line
                ))
                .hint("an input takes one stream; remove one connection, or add a block that combines streams")
                .block(g.nodes[e.to.0].id.clone()));
            } else {
                feeds.insert(e.to, e);
            }
            *used_out.entry(e.from).or_default() += 1;
        }
        for (n, node) in g.nodes.iter().enumerate() {
            for (p, port) in node.spec.inputs.iter().enumerate() {
                if port.optional
                    || feeds.contains_key(&(n, p))
                    || self.excused.contains(&((n, p), true))
                {
                    continue;
                }
                self.err(node.origin.error(format!("input `{}` is not connected", g.input_name((n, p))))
                    .hint(format!("connect it, e.g. `SOURCE.out -> {}`, or set `enabled: false` on the block", g.input_name((n, p))))
                    .block(node.id.clone()));
            }
            for (p, port) in node.spec.outputs.iter().enumerate() {
                if port.optional
                    || used_out.contains_key(&(n, p))
                    || self.excused.contains(&((n, p), false))
                {
                    continue;
                }
                self.err(
                    node.origin
                        .error(format!(
                            "output `{}` is not connected",
                            g.output_name((n, p))
                        ))
                        .hint("connect it to a sink, or to `null_sink` to discard it on purpose")
                        .block(node.id.clone()),
                );
            }
        }
    }

    /// Gives every port an item type: fixed ones from the registry, generic ones
    /// from what they are connected to. Reports every mismatch.
    fn resolve_types(&mut self, g: &mut Flowgraph) {
        // One type variable per (node, generic group); fixed types bind them.
        let mut var_of: HashMap<(usize, char), usize> = HashMap::new();
        let mut parent: Vec<usize> = Vec::new();
        let mut bound: Vec<Option<(ItemType, String)>> = Vec::new();
        let term = |n: usize,
                    t: PortType,
                    var_of: &mut HashMap<(usize, char), usize>,
                    parent: &mut Vec<usize>,
                    bound: &mut Vec<Option<(ItemType, String)>>|
         -> Result<ItemType, usize> {
            match t {
                PortType::Fixed(t) => Ok(t),
                PortType::Generic(c) => Err(*var_of.entry((n, c)).or_insert_with(|| {
                    parent.push(parent.len());
                    bound.push(None);
                    parent.len() - 1
                })),
            }
        };
        fn find(parent: &mut [usize], mut x: usize) -> usize {
            while parent[x] != x {
                parent[x] = parent[parent[x]];
                x = parent[x];
            }
            x
        }
        for e in g.edges.clone() {
            let out_t = g.nodes[e.from.0].spec.outputs[e.from.1].ty;
            let in_t = g.nodes[e.to.0].spec.inputs[e.to.1].ty;
            let a = term(e.from.0, out_t, &mut var_of, &mut parent, &mut bound);
            let b = term(e.to.0, in_t, &mut var_of, &mut parent, &mut bound);
            let from_name = g.output_name(e.from);
            let to_name = g.input_name(e.to);
            let conflict = |x: ItemType, xw: &str, y: ItemType, yw: &str| -> Option<Diagnostic> {
                if x == y {
                    return None;
                }
                Some(e.loc.error(format!(
                    "item type mismatch: `{from_name}` carries {x}{xw} but `{to_name}` takes {y}{yw}"
                )))
            };
            let d = match (a, b) {
                (Ok(x), Ok(y)) => conflict(x, "", y, ""),
                (Ok(x), Err(v)) | (Err(v), Ok(x)) => {
                    let r = find(&mut parent, v);
                    match &bound[r] {
                        Some((t, why)) => {
                            let (t, why) = (*t, why.clone());
                            if a.is_ok() {
                                conflict(x, "", t, &format!(" (its type is set by {why})"))
                            } else {
                                conflict(t, &format!(" (its type is set by {why})"), x, "")
                            }
                        }
                        None => {
                            let why = if a.is_ok() {
                                from_name.clone()
                            } else {
                                to_name.clone()
                            };
                            bound[r] = Some((x, format!("`{why}`")));
                            None
                        }
                    }
                }
                (Err(u), Err(v)) => {
                    let (ru, rv) = (find(&mut parent, u), find(&mut parent, v));
                    if ru == rv {
                        None
                    } else {
                        match (bound[ru].clone(), bound[rv].clone()) {
                            (Some((x, xw)), Some((y, yw))) => {
                                let d = conflict(
                                    x,
                                    &format!(" (set by {xw})"),
                                    y,
                                    &format!(" (set by {yw})"),
                                );
                                parent[rv] = ru;
                                d
                            }
                            (None, b) => {
                                parent[ru] = rv;
                                bound[rv] = b;
                                None
                            }
                            (a, None) => {
                                parent[rv] = ru;
                                bound[ru] = a;
                                None
                            }
                        }
                    }
                }
            };
            if let Some(d) = d {
                let (x, y) = (
                    type_at(g, e.from, false, &var_of, &mut parent, &bound),
                    type_at(g, e.to, true, &var_of, &mut parent, &bound),
                );
                let hint = match (x, y) {
                    (Some(x), Some(y)) => match self.converter(x, y) {
                        Some(c) => format!("insert a `{c}` block between them"),
                        None => format!("connect `{from_name}` to a port that takes {x}"),
                    },
                    _ => "connect ports of the same item type".into(),
                };
                self.err(d.hint(hint).block(g.nodes[e.to.0].id.clone()));
            }
        }
        for n in 0..g.nodes.len() {
            let node = &g.nodes[n];
            let mut ins = Vec::new();
            let mut outs = Vec::new();
            let mut unresolved = Vec::new();
            for (list, out) in [
                (&node.spec.inputs, &mut ins),
                (&node.spec.outputs, &mut outs),
            ] {
                for port in list {
                    let t = match port.ty {
                        PortType::Fixed(t) => Some(t),
                        PortType::Generic(c) => var_of.get(&(n, c)).and_then(|&v| {
                            let r = find(&mut parent, v);
                            bound[r].as_ref().map(|b| b.0)
                        }),
                    };
                    match t {
                        Some(t) => out.push(t),
                        None => {
                            out.push(ItemType::F32);
                            unresolved.push(format!("{}.{}", node.id, port.name));
                        }
                    }
                }
            }
            let excused = self.excused.iter().any(|((en, _), _)| *en == n);
            if !unresolved.is_empty() && !excused {
                let at = if node.loc != node.origin {
                    node.origin.clone()
                } else {
                    node.loc.clone()
                };
                self.err(
                    at.error(format!(
                        "cannot tell the item type of `{}`",
                        unresolved.join("`, `")
                    ))
                    .hint("connect the generic block to a block whose ports have a fixed type")
                    .block(node.id.clone()),
                );
            }
            g.nodes[n].input_types = ins;
            g.nodes[n].output_types = outs;
        }
    }

    /// A conversion block from `x` to `y` in the registry, if there is one.
    fn converter(&self, x: ItemType, y: ItemType) -> Option<&'static str> {
        self.registry
            .all()
            .into_iter()
            .find(|s| {
                s.inputs.len() == 1
                    && s.outputs.len() == 1
                    && s.inputs[0].ty == PortType::Fixed(x)
                    && s.outputs[0].ty == PortType::Fixed(y)
            })
            .map(|s| s.name)
    }

    /// A cycle is allowed only through a block that declares a delay.
    fn check_cycles(&mut self, g: &Flowgraph) {
        if let Err(cycle) = topological_order(g) {
            let ids: Vec<&str> = cycle.iter().map(|&n| g.nodes[n].id.as_str()).collect();
            let edge = g
                .edges
                .iter()
                .find(|e| cycle.contains(&e.from.0) && cycle.contains(&e.to.0));
            let loc = edge
                .map(|e| e.loc.clone())
                .unwrap_or_else(|| g.nodes[cycle[0]].loc.clone());
            self.err(
                loc.error(format!(
                    "cycle without a delay through {}",
                    ids.join(" -> ")
                ))
                .hint("a feedback loop needs a block with a delay in it, such as `delay`")
                .block(ids[0].to_string()),
            );
        }
    }
}

fn type_at(
    g: &Flowgraph,
    (n, p): (usize, usize),
    input: bool,
    var_of: &HashMap<(usize, char), usize>,
    parent: &mut [usize],
    bound: &[Option<(ItemType, String)>],
) -> Option<ItemType> {
    let spec = &g.nodes[n].spec;
    let t = if input {
        spec.inputs[p].ty
    } else {
        spec.outputs[p].ty
    };
    match t {
        PortType::Fixed(t) => Some(t),
        PortType::Generic(c) => {
            let mut x = *var_of.get(&(n, c))?;
            while parent[x] != x {
                x = parent[x];
            }
            bound[x].as_ref().map(|b| b.0)
        }
    }
}

/// Blocks in an order where each comes after the blocks feeding it, ignoring
/// edges that leave a block with a delay; `Err` holds the blocks on a cycle.
pub fn topological_order(g: &Flowgraph) -> Result<Vec<usize>, Vec<usize>> {
    let n = g.nodes.len();
    let mut indeg = vec![0usize; n];
    let mut succ: Vec<Vec<usize>> = vec![Vec::new(); n];
    for e in &g.edges {
        if g.nodes[e.from.0].spec.delays {
            continue;
        }
        indeg[e.to.0] += 1;
        succ[e.from.0].push(e.to.0);
    }
    let mut ready: Vec<usize> = (0..n).filter(|&i| indeg[i] == 0).rev().collect();
    let mut order = Vec::with_capacity(n);
    while let Some(i) = ready.pop() {
        order.push(i);
        for &j in succ[i].iter().rev() {
            indeg[j] -= 1;
            if indeg[j] == 0 {
                ready.push(j);
            }
        }
    }
    if order.len() == n {
        Ok(order)
    } else {
        Err((0..n).filter(|i| indeg[*i] > 0).collect())
    }
}

fn describe_param(ps: &crate::registry::ParamSpec) -> String {
    let mut s = format!("`{}` is {}", ps.name, kind_words(&ps.kind));
    if let Some((lo, hi)) = ps.range {
        s.push_str(&format!(" in {lo} … {hi}"));
    }
    if let Some(a) = &ps.allowed {
        let l: Vec<String> = a.iter().map(|x| x.to_string()).collect();
        s.push_str(&format!(" ({})", l.join(", ")));
    }
    if !ps.unit.is_empty() {
        s.push_str(&format!(" {}", ps.unit));
    }
    if let Some(d) = &ps.default {
        s.push_str(&format!(", default {d}"));
    }
    s
}

fn kind_words(k: &ParamKind) -> String {
    match k {
        ParamKind::Int => "an integer".into(),
        ParamKind::Float => "a number".into(),
        ParamKind::Bool => "true or false".into(),
        ParamKind::Str => "text".into(),
        ParamKind::Path => "a file path".into(),
        ParamKind::OutputPath => "the path of a file to write".into(),
        ParamKind::Choice(c) => format!("one of {}", c.join(", ")),
    }
}
