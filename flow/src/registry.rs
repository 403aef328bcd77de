//! The registry: the one description of every block type.
//!
//! The YAML loader, the command's `blocks`/`describe`, the generated block
//! reference and the editor's palette all read these descriptions; nothing
//! else restates a block's parameters or ports.

use crate::block::Block;
use crate::item::ItemType;
use crate::value::Value;
use serde::Serialize;
use serde_json::{json, Value as Json};
use std::collections::BTreeMap;

/// The kind of value a parameter takes.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "lowercase", tag = "kind", content = "choices")]
pub enum ParamKind {
    Int,
    Float,
    Bool,
    Str,
    /// A file a block reads. Written in a flowgraph file, it is relative to
    /// that file; given with `--set`, to the current directory.
    Path,
    /// A file a block writes, relative to the current directory (as any
    /// command's output file), so running a shipped graph never writes into
    /// `graphs/`.
    #[serde(rename = "output_path")]
    OutputPath,
    /// One of a fixed set of words.
    Choice(Vec<&'static str>),
}

impl ParamKind {
    pub fn name(&self) -> String {
        match self {
            ParamKind::Int => "int".into(),
            ParamKind::Float => "float".into(),
            ParamKind::Bool => "bool".into(),
            ParamKind::Str => "string".into(),
            ParamKind::Path => "path".into(),
            ParamKind::OutputPath => "output path".into(),
            ParamKind::Choice(c) => c.join("|"),
        }
    }
}

/// One parameter of a block type.
#[derive(Clone, Debug, Serialize)]
pub struct ParamSpec {
    pub name: &'static str,
    #[serde(flatten)]
    pub kind: ParamKind,
    /// `None` means the parameter is required.
    pub default: Option<Value>,
    /// Inclusive range for numeric parameters.
    pub range: Option<(f64, f64)>,
    /// Allowed integer values when only some are meaningful (e.g. PRBS orders).
    pub allowed: Option<Vec<i64>>,
    pub unit: &'static str,
    /// Whether it can change while the graph runs.
    pub live: bool,
    pub doc: &'static str,
}

impl ParamSpec {
    fn base(name: &'static str, kind: ParamKind, doc: &'static str) -> Self {
        ParamSpec {
            name,
            kind,
            default: None,
            range: None,
            allowed: None,
            unit: "",
            live: false,
            doc,
        }
    }
    pub fn int(name: &'static str, doc: &'static str) -> Self {
        Self::base(name, ParamKind::Int, doc)
    }
    pub fn float(name: &'static str, doc: &'static str) -> Self {
        Self::base(name, ParamKind::Float, doc)
    }
    pub fn bool(name: &'static str, doc: &'static str) -> Self {
        Self::base(name, ParamKind::Bool, doc)
    }
    pub fn string(name: &'static str, doc: &'static str) -> Self {
        Self::base(name, ParamKind::Str, doc)
    }
    pub fn path(name: &'static str, doc: &'static str) -> Self {
        Self::base(name, ParamKind::Path, doc)
    }
    pub fn output_path(name: &'static str, doc: &'static str) -> Self {
        Self::base(name, ParamKind::OutputPath, doc)
    }
    pub fn choice(name: &'static str, choices: &[&'static str], doc: &'static str) -> Self {
        Self::base(name, ParamKind::Choice(choices.to_vec()), doc)
    }
    pub fn default(mut self, v: impl Into<Value>) -> Self {
        self.default = Some(v.into());
        self
    }
    pub fn range(mut self, lo: f64, hi: f64) -> Self {
        self.range = Some((lo, hi));
        self
    }
    pub fn allowed(mut self, values: &[i64]) -> Self {
        self.allowed = Some(values.to_vec());
        self
    }
    pub fn unit(mut self, unit: &'static str) -> Self {
        self.unit = unit;
        self
    }
    pub fn live(mut self) -> Self {
        self.live = true;
        self
    }

    /// Checks and normalises a value against this spec: the value converted to
    /// the parameter's kind, or a message saying what is wrong and what would fit.
    pub fn check(&self, v: &Value) -> Result<Value, String> {
        let v = match (&self.kind, v) {
            (ParamKind::Int, Value::Int(_)) => v.clone(),
            (ParamKind::Int, Value::Float(f)) => match v.as_i64() {
                Some(i) => Value::Int(i),
                None => return Err(format!("`{}` must be an integer, got {f}", self.name)),
            },
            (ParamKind::Float, Value::Int(i)) => Value::Float(*i as f64),
            (ParamKind::Float, Value::Float(_)) => v.clone(),
            (ParamKind::Bool, Value::Bool(_)) => v.clone(),
            (ParamKind::Str | ParamKind::Path | ParamKind::OutputPath, Value::Str(_)) => v.clone(),
            (
                ParamKind::Str | ParamKind::Path | ParamKind::OutputPath,
                Value::Int(_) | Value::Float(_),
            ) => Value::Str(v.to_string()),
            (ParamKind::Choice(c), Value::Str(s)) => {
                if c.contains(&s.as_str()) {
                    v.clone()
                } else {
                    return Err(format!(
                        "`{}` must be one of {}, got `{s}`",
                        self.name,
                        c.join(", ")
                    ));
                }
            }
            (ParamKind::Choice(c), Value::Int(i)) if c.contains(&i.to_string().as_str()) => {
                Value::Str(i.to_string())
            }
            (kind, v) => {
                return Err(format!(
                    "`{}` must be {}, got {} ({v})",
                    self.name,
                    kind_phrase(kind),
                    v.kind()
                ))
            }
        };
        if let (Some((lo, hi)), Some(x)) = (self.range, v.as_f64()) {
            if !(x >= lo && x <= hi) {
                return Err(format!(
                    "`{}` = {x} is out of range {lo} … {hi}{}",
                    self.name,
                    unit_suffix(self.unit)
                ));
            }
        }
        if let (Some(allowed), Some(x)) = (&self.allowed, v.as_i64()) {
            if !allowed.contains(&x) {
                let list: Vec<String> = allowed.iter().map(|a| a.to_string()).collect();
                return Err(format!(
                    "`{}` = {x} is not one of {}",
                    self.name,
                    list.join(", ")
                ));
            }
        }
        Ok(v)
    }
}

fn unit_suffix(unit: &str) -> String {
    if unit.is_empty() {
        String::new()
    } else {
        format!(" {unit}")
    }
}

fn kind_phrase(kind: &ParamKind) -> String {
    match kind {
        ParamKind::Int => "an integer".into(),
        ParamKind::Float => "a number".into(),
        ParamKind::Bool => "true or false".into(),
        ParamKind::Str => "a string".into(),
        ParamKind::Path => "a file path".into(),
        ParamKind::OutputPath => "the path of a file to write".into(),
        ParamKind::Choice(c) => format!("one of {}", c.join(", ")),
    }
}

impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::Int(v)
    }
}
impl From<i32> for Value {
    fn from(v: i32) -> Self {
        Value::Int(v as i64)
    }
}
impl From<f64> for Value {
    fn from(v: f64) -> Self {
        Value::Float(v)
    }
}
impl From<bool> for Value {
    fn from(v: bool) -> Self {
        Value::Bool(v)
    }
}
impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::Str(v.to_string())
    }
}

/// The item type of a port: fixed, or generic (taken from what it connects to).
/// Generic ports of one block that share a group letter have the same type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PortType {
    Fixed(ItemType),
    Generic(char),
}

impl PortType {
    pub fn describe(self) -> String {
        match self {
            PortType::Fixed(t) => t.name().into(),
            PortType::Generic(g) => format!("any ({g})"),
        }
    }
}

/// How many items a port carries relative to the block's first input
/// (for sources, relative to the first output).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Rate {
    /// `num` items here for every `den` items there.
    Ratio(u32, u32),
    /// Depends on the data or on parameters.
    Varies,
}

impl Rate {
    pub fn describe(self) -> String {
        match self {
            Rate::Ratio(1, 1) => "1:1".into(),
            Rate::Ratio(n, d) => format!("{n}:{d}"),
            Rate::Varies => "varies".into(),
        }
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct PortSpec {
    pub name: &'static str,
    #[serde(rename = "type")]
    pub ty: PortType,
    pub rate: Rate,
    /// An input that may be left unconnected.
    pub optional: bool,
    pub doc: &'static str,
}

impl PortSpec {
    pub fn new(name: &'static str, ty: ItemType, doc: &'static str) -> Self {
        PortSpec {
            name,
            ty: PortType::Fixed(ty),
            rate: Rate::Ratio(1, 1),
            optional: false,
            doc,
        }
    }
    pub fn generic(name: &'static str, group: char, doc: &'static str) -> Self {
        PortSpec {
            name,
            ty: PortType::Generic(group),
            rate: Rate::Ratio(1, 1),
            optional: false,
            doc,
        }
    }
    pub fn rate(mut self, rate: Rate) -> Self {
        self.rate = rate;
        self
    }
    pub fn optional(mut self) -> Self {
        self.optional = true;
        self
    }
}

/// An event a block can emit, with its fields documented.
#[derive(Clone, Debug, Serialize)]
pub struct EventSpec {
    pub name: &'static str,
    pub doc: &'static str,
    pub fields: Vec<(&'static str, &'static str)>,
}

impl EventSpec {
    pub fn new(
        name: &'static str,
        doc: &'static str,
        fields: &[(&'static str, &'static str)],
    ) -> Self {
        EventSpec {
            name,
            doc,
            fields: fields.to_vec(),
        }
    }
}

/// What a factory gets: the block id, its checked parameters (defaults filled
/// in) and the item types its generic ports resolved to.
#[derive(Clone, Debug)]
pub struct BlockArgs {
    pub id: String,
    pub params: BTreeMap<String, Value>,
    pub input_types: Vec<ItemType>,
    pub output_types: Vec<ItemType>,
}

impl BlockArgs {
    /// Arguments for `spec` with `params` checked over its defaults, as the
    /// loader would make them (for tests, benchmarks and programs that build
    /// blocks without a flowgraph file).
    pub fn from_spec(spec: &BlockSpec, params: &[(&str, Value)]) -> Result<BlockArgs, String> {
        let mut map = BTreeMap::new();
        for p in &spec.params {
            if let Some(d) = &p.default {
                map.insert(p.name.to_string(), d.clone());
            }
        }
        for (name, v) in params {
            let p = spec
                .param_spec(name)
                .ok_or_else(|| format!("`{}` has no parameter `{name}`", spec.name))?;
            map.insert(name.to_string(), p.check(v)?);
        }
        for p in &spec.params {
            if !map.contains_key(p.name) {
                return Err(format!("`{}` needs parameter `{}`", spec.name, p.name));
            }
        }
        if let Some(check) = spec.check {
            check(&map).map_err(|(name, m)| format!("`{}`.{name}: {m}", spec.name))?;
        }
        Ok(BlockArgs {
            id: spec.name.to_string(),
            params: map,
            input_types: Vec::new(),
            output_types: Vec::new(),
        })
    }

    fn get(&self, name: &str) -> Result<&Value, String> {
        self.params
            .get(name)
            .ok_or_else(|| format!("parameter `{name}` is missing"))
    }
    pub fn int(&self, name: &str) -> Result<i64, String> {
        self.get(name)?
            .as_i64()
            .ok_or_else(|| format!("parameter `{name}` is not an integer"))
    }
    pub fn float(&self, name: &str) -> Result<f64, String> {
        self.get(name)?
            .as_f64()
            .ok_or_else(|| format!("parameter `{name}` is not a number"))
    }
    pub fn bool(&self, name: &str) -> Result<bool, String> {
        self.get(name)?
            .as_bool()
            .ok_or_else(|| format!("parameter `{name}` is not a boolean"))
    }
    pub fn string(&self, name: &str) -> Result<String, String> {
        Ok(self.get(name)?.to_string())
    }
    /// A path parameter, as the loader resolved it (see [`ParamKind::Path`]).
    pub fn path(&self, name: &str) -> Result<std::path::PathBuf, String> {
        Ok(std::path::PathBuf::from(self.string(name)?))
    }
    pub fn input_type(&self, i: usize) -> ItemType {
        self.input_types.get(i).copied().unwrap_or(ItemType::F32)
    }
    pub fn output_type(&self, i: usize) -> ItemType {
        self.output_types.get(i).copied().unwrap_or(ItemType::F32)
    }
}

pub type Factory = fn(&BlockArgs) -> Result<Box<dyn Block>, String>;

/// A check of the parameters together, for combinations their own ranges
/// cannot express. Called by the loader once each parameter is valid; an
/// error names the parameter to report it at, and says what is allowed.
pub type ParamsCheck = fn(&BTreeMap<String, Value>) -> Result<(), (&'static str, String)>;

/// The full description of one block type.
#[derive(Clone, Serialize)]
pub struct BlockSpec {
    pub name: &'static str,
    pub category: &'static str,
    pub summary: &'static str,
    pub doc: &'static str,
    pub params: Vec<ParamSpec>,
    pub inputs: Vec<PortSpec>,
    pub outputs: Vec<PortSpec>,
    pub events: Vec<EventSpec>,
    /// Items its outputs carry before any input arrives. A cycle in a
    /// flowgraph is allowed only through a block with a delay.
    pub delays: bool,
    #[serde(skip)]
    pub factory: Factory,
    #[serde(skip)]
    pub check: Option<ParamsCheck>,
}

impl std::fmt::Debug for BlockSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlockSpec")
            .field("name", &self.name)
            .finish()
    }
}

impl BlockSpec {
    pub fn new(
        name: &'static str,
        category: &'static str,
        summary: &'static str,
        factory: Factory,
    ) -> Self {
        BlockSpec {
            name,
            category,
            summary,
            doc: "",
            params: Vec::new(),
            inputs: Vec::new(),
            outputs: Vec::new(),
            events: Vec::new(),
            delays: false,
            factory,
            check: None,
        }
    }
    pub fn doc(mut self, doc: &'static str) -> Self {
        self.doc = doc;
        self
    }
    pub fn param(mut self, p: ParamSpec) -> Self {
        self.params.push(p);
        self
    }
    pub fn input(mut self, p: PortSpec) -> Self {
        self.inputs.push(p);
        self
    }
    pub fn output(mut self, p: PortSpec) -> Self {
        self.outputs.push(p);
        self
    }
    pub fn event(mut self, e: EventSpec) -> Self {
        self.events.push(e);
        self
    }
    pub fn with_delay(mut self) -> Self {
        self.delays = true;
        self
    }
    /// Checks the parameters together (see [`ParamsCheck`]).
    pub fn check(mut self, check: ParamsCheck) -> Self {
        self.check = Some(check);
        self
    }

    pub fn param_spec(&self, name: &str) -> Option<&ParamSpec> {
        self.params.iter().find(|p| p.name == name)
    }

    /// The description as JSON (for `describe --json` and `blocks --json`).
    pub fn to_json(&self) -> Json {
        let mut v = serde_json::to_value(self).unwrap_or(Json::Null);
        if let Json::Object(m) = &mut v {
            m.insert("type".into(), json!(self.name));
            m.remove("name");
        }
        v
    }
}

/// All block types known to a program.
#[derive(Clone, Debug, Default)]
pub struct Registry {
    specs: Vec<BlockSpec>,
}

impl Registry {
    pub fn new() -> Self {
        Registry::default()
    }

    /// Adds a block type. Registering a name twice is a programming error.
    pub fn register(&mut self, spec: BlockSpec) {
        assert!(
            self.get(spec.name).is_none(),
            "block type `{}` registered twice",
            spec.name
        );
        self.specs.push(spec);
    }

    pub fn get(&self, name: &str) -> Option<&BlockSpec> {
        self.specs.iter().find(|s| s.name == name)
    }

    /// All types, sorted by category then name.
    pub fn all(&self) -> Vec<&BlockSpec> {
        let mut v: Vec<&BlockSpec> = self.specs.iter().collect();
        v.sort_by(|a, b| (a.category, a.name).cmp(&(b.category, b.name)));
        v
    }

    /// The known name closest to `name`, if any is close enough to suggest.
    pub fn suggest(&self, name: &str) -> Option<&'static str> {
        closest(name, self.specs.iter().map(|s| s.name))
    }
}

/// The candidate with the smallest edit distance to `word`, if it is close.
pub fn closest<'a>(word: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    let mut best: Option<(usize, &str)> = None;
    for c in candidates {
        let d = edit_distance(word, c);
        let prefix = word
            .chars()
            .zip(c.chars())
            .take_while(|(a, b)| a == b)
            .count();
        let close = d <= 2.max(word.len() / 3)
            || (c.contains(word) && word.len() >= 3)
            || (word.contains(c) && c.len() >= 3)
            || (prefix >= 3 && d <= word.len());
        if close && best.is_none_or(|(bd, _)| d < bd) {
            best = Some((d, c));
        }
    }
    best.map(|(_, c)| c)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != cb);
            cur.push(sub.min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions_find_near_misses_only() {
        let names = ["scrambler", "descrambler", "prbs_source", "ber_sink"];
        assert_eq!(
            closest("scrambelr", names.iter().copied()),
            Some("scrambler")
        );
        assert_eq!(closest("prbs", names.iter().copied()), Some("prbs_source"));
        assert_eq!(closest("equalizer", names.iter().copied()), None);
    }

    #[test]
    fn param_check_converts_and_limits() {
        let p = ParamSpec::int("order", "").allowed(&[9, 23]);
        assert_eq!(p.check(&Value::Float(23.0)), Ok(Value::Int(23)));
        assert!(p
            .check(&Value::Int(10))
            .unwrap_err()
            .contains("not one of 9, 23"));
        let f = ParamSpec::float("level", "").range(-90.0, 3.0).unit("dBm0");
        assert_eq!(f.check(&Value::Int(-10)), Ok(Value::Float(-10.0)));
        assert!(f
            .check(&Value::Float(5.0))
            .unwrap_err()
            .contains("out of range"));
        assert!(f
            .check(&Value::Str("x".into()))
            .unwrap_err()
            .contains("must be a number"));
        let c = ParamSpec::choice("law", &["mu", "a"], "");
        assert!(c
            .check(&Value::Str("b".into()))
            .unwrap_err()
            .contains("one of mu, a"));
    }
}
