//! Parameter expressions: numbers, strings, variables and plain arithmetic.
//!
//! `seconds * 8000`, `-(order + 1)`, `2 ** 10`, `min(a, b)`. Nothing else is
//! evaluated: there are no assignments, calls into code or side effects.

use crate::value::Value;
use std::collections::BTreeMap;

/// An evaluation error with the column (0-based, in characters) where it arose.
#[derive(Debug, Clone, PartialEq)]
pub struct ExprError {
    pub offset: usize,
    pub message: String,
    pub hint: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Num(f64, bool),
    Ident(String),
    Str(String),
    Op(&'static str),
    LParen,
    RParen,
    Comma,
}

fn lex(src: &str) -> Result<Vec<(usize, Tok)>, ExprError> {
    let chars: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let start = i;
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        if c.is_ascii_digit() || (c == '.' && chars.get(i + 1).is_some_and(|d| d.is_ascii_digit()))
        {
            while i < chars.len()
                && (chars[i].is_ascii_alphanumeric() || chars[i] == '.' || chars[i] == '_')
            {
                if (chars[i] == 'e' || chars[i] == 'E')
                    && matches!(chars.get(i + 1), Some('-') | Some('+'))
                {
                    i += 1;
                }
                i += 1;
            }
            let text: String = chars[start..i].iter().filter(|c| **c != '_').collect();
            let is_int = !text.contains(['.', 'e', 'E']) || text.starts_with("0x");
            let value = if let Some(hex) = text.strip_prefix("0x") {
                i64::from_str_radix(hex, 16).map(|v| v as f64).ok()
            } else {
                text.parse::<f64>().ok()
            };
            match value {
                Some(v) => out.push((start, Tok::Num(v, is_int))),
                None => {
                    return Err(ExprError {
                        offset: start,
                        message: format!("`{text}` is not a number"),
                        hint: None,
                    })
                }
            }
            continue;
        }
        if c.is_alphabetic() || c == '_' {
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            out.push((start, Tok::Ident(chars[start..i].iter().collect())));
            continue;
        }
        if c == '"' || c == '\'' {
            i += 1;
            let s = i;
            while i < chars.len() && chars[i] != c {
                i += 1;
            }
            if i >= chars.len() {
                return Err(ExprError {
                    offset: start,
                    message: "unterminated string".into(),
                    hint: Some(format!("close it with {c}")),
                });
            }
            out.push((start, Tok::Str(chars[s..i].iter().collect())));
            i += 1;
            continue;
        }
        let two: String = chars[i..(i + 2).min(chars.len())].iter().collect();
        let tok = match (two.as_str(), c) {
            ("**", _) => {
                i += 2;
                Tok::Op("**")
            }
            (_, '+') | (_, '-') | (_, '*') | (_, '/') | (_, '%') => {
                i += 1;
                Tok::Op(match c {
                    '+' => "+",
                    '-' => "-",
                    '*' => "*",
                    '/' => "/",
                    _ => "%",
                })
            }
            (_, '(') => {
                i += 1;
                Tok::LParen
            }
            (_, ')') => {
                i += 1;
                Tok::RParen
            }
            (_, ',') => {
                i += 1;
                Tok::Comma
            }
            _ => {
                return Err(ExprError {
                    offset: start,
                    message: format!("unexpected character `{c}` in expression"),
                    hint: Some(
                        "expressions allow numbers, variables, + - * / % ** and parentheses".into(),
                    ),
                })
            }
        };
        out.push((start, tok));
    }
    Ok(out)
}

struct Parser<'a> {
    toks: Vec<(usize, Tok)>,
    pos: usize,
    vars: &'a BTreeMap<String, Value>,
    end: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos).map(|t| &t.1)
    }
    fn offset(&self) -> usize {
        self.toks.get(self.pos).map(|t| t.0).unwrap_or(self.end)
    }
    fn err<T>(&self, offset: usize, message: String) -> Result<T, ExprError> {
        Err(ExprError {
            offset,
            message,
            hint: None,
        })
    }

    fn expr(&mut self) -> Result<Value, ExprError> {
        let mut lhs = self.term()?;
        while let Some(Tok::Op(op @ ("+" | "-"))) = self.peek() {
            let op = *op;
            let at = self.offset();
            self.pos += 1;
            let rhs = self.term()?;
            lhs = self.binary(op, lhs, rhs, at)?;
        }
        Ok(lhs)
    }

    fn term(&mut self) -> Result<Value, ExprError> {
        let mut lhs = self.unary()?;
        while let Some(Tok::Op(op @ ("*" | "/" | "%"))) = self.peek() {
            let op = *op;
            let at = self.offset();
            self.pos += 1;
            let rhs = self.unary()?;
            lhs = self.binary(op, lhs, rhs, at)?;
        }
        Ok(lhs)
    }

    fn unary(&mut self) -> Result<Value, ExprError> {
        if let Some(Tok::Op(op @ ("-" | "+"))) = self.peek() {
            let op = *op;
            let at = self.offset();
            self.pos += 1;
            let v = self.unary()?;
            return match (op, v) {
                ("-", Value::Int(i)) => Ok(Value::Int(-i)),
                ("-", Value::Float(f)) => Ok(Value::Float(-f)),
                (_, v @ (Value::Int(_) | Value::Float(_))) => Ok(v),
                (_, v) => self.err(at, format!("cannot negate {}", v.kind())),
            };
        }
        self.power()
    }

    fn power(&mut self) -> Result<Value, ExprError> {
        let base = self.atom()?;
        if let Some(Tok::Op("**")) = self.peek() {
            let at = self.offset();
            self.pos += 1;
            let exp = self.unary()?;
            return self.binary("**", base, exp, at);
        }
        Ok(base)
    }

    fn atom(&mut self) -> Result<Value, ExprError> {
        let at = self.offset();
        let Some((_, tok)) = self.toks.get(self.pos).cloned() else {
            return self.err(at, "expression ends too early".into());
        };
        self.pos += 1;
        match tok {
            Tok::Num(v, true) if v.abs() < 9.0e15 => Ok(Value::Int(v as i64)),
            Tok::Num(v, _) => Ok(Value::Float(v)),
            Tok::Str(s) => Ok(Value::Str(s)),
            Tok::LParen => {
                let v = self.expr()?;
                match self.peek() {
                    Some(Tok::RParen) => {
                        self.pos += 1;
                        Ok(v)
                    }
                    _ => self.err(self.offset(), "expected `)`".into()),
                }
            }
            Tok::Ident(name) => {
                if let Some(Tok::LParen) = self.peek() {
                    self.pos += 1;
                    let mut args = Vec::new();
                    if let Some(Tok::RParen) = self.peek() {
                        self.pos += 1;
                    } else {
                        loop {
                            args.push(self.expr()?);
                            match self.peek() {
                                Some(Tok::Comma) => self.pos += 1,
                                Some(Tok::RParen) => {
                                    self.pos += 1;
                                    break;
                                }
                                _ => return self.err(self.offset(), "expected `,` or `)`".into()),
                            }
                        }
                    }
                    return call(&name, &args).map_err(|m| ExprError {
                        offset: at,
                        message: m,
                        hint: Some(
                            "functions: min, max, abs, round, floor, ceil, sqrt, log10, int, float"
                                .into(),
                        ),
                    });
                }
                match name.as_str() {
                    "true" => return Ok(Value::Bool(true)),
                    "false" => return Ok(Value::Bool(false)),
                    "pi" => return Ok(Value::Float(std::f64::consts::PI)),
                    _ => {}
                }
                match self.vars.get(&name) {
                    Some(v) => Ok(v.clone()),
                    None => {
                        let hint =
                            crate::registry::closest(&name, self.vars.keys().map(|k| k.as_str()))
                                .map(|c| format!("did you mean `{c}`?"))
                                .or_else(|| {
                                    Some(
                                        "declare it under `variables:` or pass --set NAME=VALUE"
                                            .into(),
                                    )
                                });
                        Err(ExprError {
                            offset: at,
                            message: format!("undefined variable `{name}`"),
                            hint,
                        })
                    }
                }
            }
            other => self.err(at, format!("unexpected {}", describe(&other))),
        }
    }

    fn binary(&self, op: &str, a: Value, b: Value, at: usize) -> Result<Value, ExprError> {
        use Value::*;
        let r = match (op, &a, &b) {
            ("+", Str(x), Str(y)) => Str(format!("{x}{y}")),
            ("+", Str(x), y) => Str(format!("{x}{y}")),
            ("/", Int(_), Int(0)) | ("%", Int(_), Int(0)) => {
                return self.err(at, "division by zero".into())
            }
            ("+", Int(x), Int(y)) => x
                .checked_add(*y)
                .map(Int)
                .unwrap_or(Float(*x as f64 + *y as f64)),
            ("-", Int(x), Int(y)) => x
                .checked_sub(*y)
                .map(Int)
                .unwrap_or(Float(*x as f64 - *y as f64)),
            ("*", Int(x), Int(y)) => x
                .checked_mul(*y)
                .map(Int)
                .unwrap_or(Float(*x as f64 * *y as f64)),
            ("%", Int(x), Int(y)) => Int(x.rem_euclid(*y)),
            ("/", Int(x), Int(y)) if x % y == 0 => Int(x / y),
            ("**", Int(x), Int(y)) if (0..63).contains(y) => x
                .checked_pow(*y as u32)
                .map(Int)
                .unwrap_or(Float((*x as f64).powf(*y as f64))),
            (_, x, y) => {
                let (Some(x), Some(y)) = (x.as_f64(), y.as_f64()) else {
                    return self.err(
                        at,
                        format!("cannot apply `{op}` to {} and {}", a.kind(), b.kind()),
                    );
                };
                let v = match op {
                    "+" => x + y,
                    "-" => x - y,
                    "*" => x * y,
                    "/" => x / y,
                    "%" => x.rem_euclid(y),
                    _ => x.powf(y),
                };
                if !v.is_finite() {
                    return self.err(
                        at,
                        format!("`{op}` gives a result that is not a finite number"),
                    );
                }
                Float(v)
            }
        };
        Ok(r)
    }
}

fn describe(t: &Tok) -> String {
    match t {
        Tok::Num(v, _) => format!("number {v}"),
        Tok::Ident(s) => format!("name `{s}`"),
        Tok::Str(s) => format!("string \"{s}\""),
        Tok::Op(o) => format!("`{o}`"),
        Tok::LParen => "`(`".into(),
        Tok::RParen => "`)`".into(),
        Tok::Comma => "`,`".into(),
    }
}

fn call(name: &str, args: &[Value]) -> Result<Value, String> {
    let nums: Option<Vec<f64>> = args.iter().map(Value::as_f64).collect();
    let Some(nums) = nums else {
        return Err(format!("`{name}` takes numbers"));
    };
    let all_int = args.iter().all(|a| matches!(a, Value::Int(_)));
    let one = |f: fn(f64) -> f64| -> Result<f64, String> {
        match nums.as_slice() {
            [x] => Ok(f(*x)),
            _ => Err(format!("`{name}` takes one argument")),
        }
    };
    let v = match name {
        "min" | "max" if !nums.is_empty() => {
            let r = if name == "min" {
                nums.iter().cloned().fold(f64::INFINITY, f64::min)
            } else {
                nums.iter().cloned().fold(f64::NEG_INFINITY, f64::max)
            };
            return Ok(if all_int {
                Value::Int(r as i64)
            } else {
                Value::Float(r)
            });
        }
        "abs" => one(f64::abs)?,
        "round" => return Ok(Value::Int(one(f64::round)? as i64)),
        "floor" => return Ok(Value::Int(one(f64::floor)? as i64)),
        "ceil" => return Ok(Value::Int(one(f64::ceil)? as i64)),
        "int" => return Ok(Value::Int(one(f64::trunc)? as i64)),
        "float" => one(|x| x)?,
        "sqrt" => one(f64::sqrt)?,
        "log10" => one(f64::log10)?,
        _ => return Err(format!("unknown function `{name}`")),
    };
    if !v.is_finite() {
        return Err(format!(
            "`{name}` gives a result that is not a finite number"
        ));
    }
    Ok(Value::Float(v))
}

/// Evaluates an expression against the variables in scope.
pub fn eval(src: &str, vars: &BTreeMap<String, Value>) -> Result<Value, ExprError> {
    let toks = lex(src)?;
    let end = src.chars().count();
    let mut p = Parser {
        toks,
        pos: 0,
        vars,
        end,
    };
    if p.toks.is_empty() {
        return p.err(0, "empty expression".into());
    }
    let v = p.expr()?;
    if p.pos < p.toks.len() {
        let at = p.offset();
        let what = describe(&p.toks[p.pos].1);
        return p.err(at, format!("unexpected {what} after the expression"));
    }
    Ok(v)
}

/// True when a scalar looks like an expression rather than plain text.
pub fn looks_like_expression(src: &str) -> bool {
    lex(src).is_ok_and(|t| !t.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars() -> BTreeMap<String, Value> {
        let mut v = BTreeMap::new();
        v.insert("seconds".into(), Value::Int(10));
        v.insert("level".into(), Value::Float(-12.5));
        v
    }

    #[test]
    fn arithmetic_with_variables() {
        let v = vars();
        assert_eq!(eval("seconds * 8000", &v), Ok(Value::Int(80000)));
        assert_eq!(eval("2 ** 10 + 1", &v), Ok(Value::Int(1025)));
        assert_eq!(eval("-(seconds + 2) * 3", &v), Ok(Value::Int(-36)));
        assert_eq!(eval("7 / 2", &v), Ok(Value::Float(3.5)));
        assert_eq!(eval("level + 2.5", &v), Ok(Value::Float(-10.0)));
        assert_eq!(eval("max(seconds, 3) % 4", &v), Ok(Value::Int(2)));
        assert_eq!(eval("1e-3 * 2", &v), Ok(Value::Float(0.002)));
        assert_eq!(eval("0x1F", &v), Ok(Value::Int(31)));
    }

    #[test]
    fn errors_point_at_the_problem() {
        let v = vars();
        let e = eval("secs * 8000", &v).unwrap_err();
        assert_eq!(e.offset, 0);
        assert!(e.message.contains("undefined variable `secs`"));
        assert_eq!(e.hint.as_deref(), Some("did you mean `seconds`?"));
        let e = eval("1 + (2", &v).unwrap_err();
        assert!(e.message.contains("expected `)`"));
        assert_eq!(eval("1 / 0", &v).unwrap_err().offset, 2);
        assert!(eval("1 +", &v).is_err());
        assert!(eval("3 $ 4", &v).is_err());
        assert!(eval("10 ** 400", &v).is_err());
    }

    proptest::proptest! {
        #[test]
        fn never_panics(s in ".{0,40}") {
            let _ = eval(&s, &vars());
        }
    }
}
