//! A small JSON Schema (draft 2020-12) validator for the subset the event schemas use.
//!
//! Supported: `type`, `const`, `enum`, `required`, `properties`, `additionalProperties`
//! (boolean), `items`, `minItems`, `maxItems`, `uniqueItems`, `minLength`, `maxLength`,
//! `minimum`, `maximum`, `pattern` (anchored; literals, escapes, `\d`, classes, groups,
//! `? * + {n} {m,n}`), and the annotations `$schema`, `$id`, `title`, `description`,
//! `format`. Any other keyword makes validation fail loudly, so a schema can never rely on
//! something this validator silently skips.

use serde_json::Value;

const ANNOTATIONS: &[&str] = &["$schema", "$id", "title", "description", "format"];

/// Validates `instance` against `schema`; returns every violation with its JSON path.
pub fn validate(schema: &Value, instance: &Value) -> Result<(), Vec<String>> {
    let mut errors = Vec::new();
    check(schema, instance, "$", &mut errors);
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

fn check(schema: &Value, v: &Value, path: &str, errors: &mut Vec<String>) {
    let Some(s) = schema.as_object() else {
        errors.push(format!("{path}: schema is not an object"));
        return;
    };
    for (kw, arg) in s {
        match kw.as_str() {
            k if ANNOTATIONS.contains(&k) => {}
            "type" => {
                let types: Vec<&str> = match arg {
                    Value::String(t) => vec![t.as_str()],
                    Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
                    _ => {
                        errors.push(format!("{path}: bad type keyword"));
                        continue;
                    }
                };
                if !types.iter().any(|t| has_type(v, t)) {
                    errors.push(format!("{path}: expected type {types:?}, got {v}"));
                }
            }
            "const" => {
                if !json_eq(v, arg) {
                    errors.push(format!("{path}: expected const {arg}, got {v}"));
                }
            }
            "enum" => {
                if !arg
                    .as_array()
                    .is_some_and(|a| a.iter().any(|e| json_eq(v, e)))
                {
                    errors.push(format!("{path}: {v} not in enum {arg}"));
                }
            }
            "required" => {
                if let (Some(obj), Some(req)) = (v.as_object(), arg.as_array()) {
                    for r in req.iter().filter_map(Value::as_str) {
                        if !obj.contains_key(r) {
                            errors.push(format!("{path}: missing required property {r:?}"));
                        }
                    }
                }
            }
            "properties" => {
                if let (Some(obj), Some(props)) = (v.as_object(), arg.as_object()) {
                    for (name, sub) in props {
                        if let Some(child) = obj.get(name) {
                            check(sub, child, &format!("{path}.{name}"), errors);
                        }
                    }
                }
            }
            "additionalProperties" => match (v.as_object(), arg) {
                (Some(obj), Value::Bool(false)) => {
                    let declared = s.get("properties").and_then(Value::as_object);
                    for k in obj.keys() {
                        if !declared.is_some_and(|d| d.contains_key(k)) {
                            errors.push(format!("{path}: additional property {k:?} not allowed"));
                        }
                    }
                }
                (_, Value::Bool(_)) | (None, _) => {}
                _ => errors.push(format!("{path}: unsupported additionalProperties form")),
            },
            "items" => {
                if let Some(a) = v.as_array() {
                    for (i, item) in a.iter().enumerate() {
                        check(arg, item, &format!("{path}[{i}]"), errors);
                    }
                }
            }
            "minItems" | "maxItems" => {
                if let (Some(a), Some(n)) = (v.as_array(), arg.as_u64()) {
                    let len = a.len() as u64;
                    if (kw == "minItems" && len < n) || (kw == "maxItems" && len > n) {
                        errors.push(format!("{path}: {len} items violates {kw} {n}"));
                    }
                }
            }
            "uniqueItems" => {
                if let (Some(a), Some(true)) = (v.as_array(), arg.as_bool()) {
                    for i in 0..a.len() {
                        if a[i + 1..].iter().any(|b| json_eq(&a[i], b)) {
                            errors.push(format!("{path}: duplicate item {}", a[i]));
                        }
                    }
                }
            }
            "minLength" | "maxLength" => {
                if let (Some(t), Some(n)) = (v.as_str(), arg.as_u64()) {
                    let len = t.chars().count() as u64;
                    if (kw == "minLength" && len < n) || (kw == "maxLength" && len > n) {
                        errors.push(format!("{path}: length {len} violates {kw} {n}"));
                    }
                }
            }
            "minimum" | "maximum" => {
                if let (Some(x), Some(bound)) = (v.as_f64(), arg.as_f64()) {
                    if (kw == "minimum" && x < bound) || (kw == "maximum" && x > bound) {
                        errors.push(format!("{path}: {x} violates {kw} {bound}"));
                    }
                }
            }
            "pattern" => match (v.as_str(), arg.as_str()) {
                (Some(t), Some(p)) => match Pattern::parse(p) {
                    Ok(re) if re.is_match(t) => {}
                    Ok(_) => errors.push(format!("{path}: {t:?} does not match {p}")),
                    Err(e) => errors.push(format!("{path}: unsupported pattern {p}: {e}")),
                },
                (None, Some(_)) => {}
                _ => errors.push(format!("{path}: bad pattern keyword")),
            },
            other => errors.push(format!(
                "{path}: keyword {other:?} is not supported by this validator"
            )),
        }
    }
}

fn has_type(v: &Value, t: &str) -> bool {
    match t {
        "object" => v.is_object(),
        "array" => v.is_array(),
        "string" => v.is_string(),
        "boolean" => v.is_boolean(),
        "null" => v.is_null(),
        "number" => v.is_number(),
        // JSON Schema: an integer is a number with no fractional part (1.0 counts).
        "integer" => v.is_i64() || v.is_u64() || v.as_f64().is_some_and(|f| f.fract() == 0.0),
        _ => false,
    }
}

/// JSON equality where 1 and 1.0 are equal, as JSON Schema requires.
fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| json_eq(p, q))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| json_eq(v, w)))
        }
        _ => a == b,
    }
}

#[derive(Debug, Clone)]
enum Node {
    Char(char),
    Class {
        ranges: Vec<(char, char)>,
        negated: bool,
    },
    Group(Vec<Piece>),
}

#[derive(Debug, Clone)]
struct Piece {
    node: Node,
    min: usize,
    max: usize,
}

/// An anchored regular expression of the supported subset.
#[derive(Debug, Clone)]
pub struct Pattern(Vec<Piece>);

impl Pattern {
    pub fn parse(p: &str) -> Result<Self, String> {
        let inner = p
            .strip_prefix('^')
            .and_then(|r| r.strip_suffix('$'))
            .ok_or("only patterns anchored with ^...$ are supported")?;
        let chars: Vec<char> = inner.chars().collect();
        let mut pos = 0;
        let pieces = parse_seq(&chars, &mut pos)?;
        if pos != chars.len() {
            return Err(format!("unexpected {:?} at {pos}", chars[pos]));
        }
        Ok(Pattern(pieces))
    }

    pub fn is_match(&self, text: &str) -> bool {
        let input: Vec<char> = text.chars().collect();
        match_seq(&self.0, &input, 0, &mut |end| end == input.len())
    }
}

fn parse_seq(c: &[char], pos: &mut usize) -> Result<Vec<Piece>, String> {
    let mut out = Vec::new();
    while *pos < c.len() && c[*pos] != ')' {
        let node = match c[*pos] {
            '(' => {
                *pos += 1;
                let inner = parse_seq(c, pos)?;
                if c.get(*pos) != Some(&')') {
                    return Err("unclosed group".into());
                }
                *pos += 1;
                Node::Group(inner)
            }
            '[' => parse_class(c, pos)?,
            '\\' => {
                let e = *c.get(*pos + 1).ok_or("dangling escape")?;
                *pos += 2;
                escape(e)?
            }
            '.' | '|' | '^' | '$' | '{' | '}' | '?' | '*' | '+' | ']' => {
                return Err(format!("unsupported or misplaced {:?}", c[*pos]))
            }
            ch => {
                *pos += 1;
                Node::Char(ch)
            }
        };
        let (min, max) = parse_quantifier(c, pos)?;
        out.push(Piece { node, min, max });
    }
    Ok(out)
}

fn escape(e: char) -> Result<Node, String> {
    match e {
        'd' => Ok(Node::Class {
            ranges: vec![('0', '9')],
            negated: false,
        }),
        '.' | '-' | '\\' | '/' | '(' | ')' | '[' | ']' | '{' | '}' | '?' | '*' | '+' | '^'
        | '$' | '|' => Ok(Node::Char(e)),
        other => Err(format!("unsupported escape \\{other}")),
    }
}

fn parse_class(c: &[char], pos: &mut usize) -> Result<Node, String> {
    *pos += 1; // '['
    let negated = c.get(*pos) == Some(&'^');
    if negated {
        *pos += 1;
    }
    let mut ranges = Vec::new();
    loop {
        let ch = *c.get(*pos).ok_or("unclosed class")?;
        if ch == ']' {
            *pos += 1;
            break;
        }
        let lo = if ch == '\\' {
            let e = *c.get(*pos + 1).ok_or("dangling escape")?;
            *pos += 2;
            if e == 'd' {
                ranges.push(('0', '9'));
                continue;
            }
            e
        } else {
            *pos += 1;
            ch
        };
        // A '-' makes a range unless it is last in the class (then it is literal).
        if c.get(*pos) == Some(&'-') && c.get(*pos + 1).is_some_and(|n| *n != ']') {
            let hi = c[*pos + 1];
            *pos += 2;
            if hi < lo {
                return Err(format!("bad range {lo}-{hi}"));
            }
            ranges.push((lo, hi));
        } else {
            ranges.push((lo, lo));
        }
    }
    Ok(Node::Class { ranges, negated })
}

fn parse_quantifier(c: &[char], pos: &mut usize) -> Result<(usize, usize), String> {
    let q = match c.get(*pos) {
        Some('?') => (0, 1),
        Some('*') => (0, usize::MAX),
        Some('+') => (1, usize::MAX),
        Some('{') => {
            let close = c[*pos..]
                .iter()
                .position(|x| *x == '}')
                .ok_or("unclosed {")?
                + *pos;
            let body: String = c[*pos + 1..close].iter().collect();
            let num = |s: &str| {
                s.trim()
                    .parse::<usize>()
                    .map_err(|_| format!("bad quantifier {{{body}}}"))
            };
            let q = match body.split_once(',') {
                None => {
                    let n = num(&body)?;
                    (n, n)
                }
                Some((a, "")) => (num(a)?, usize::MAX),
                Some((a, b)) => (num(a)?, num(b)?),
            };
            *pos = close;
            q
        }
        _ => return Ok((1, 1)),
    };
    *pos += 1;
    Ok(q)
}

// Backtracking matcher in continuation-passing style: `k` receives each end position the
// prefix can match up to, and says whether the rest matched from there.
fn match_seq(
    pieces: &[Piece],
    input: &[char],
    pos: usize,
    k: &mut dyn FnMut(usize) -> bool,
) -> bool {
    match pieces.split_first() {
        None => k(pos),
        Some((p, rest)) => match_rep(p, 0, input, pos, &mut |e| match_seq(rest, input, e, k)),
    }
}

fn match_rep(
    p: &Piece,
    count: usize,
    input: &[char],
    pos: usize,
    k: &mut dyn FnMut(usize) -> bool,
) -> bool {
    // Greedy: one more repetition first (never an empty one, which would loop), then stop.
    if count < p.max
        && match_one(&p.node, input, pos, &mut |e| {
            e != pos && match_rep(p, count + 1, input, e, k)
        })
    {
        return true;
    }
    count >= p.min && k(pos)
}

fn match_one(node: &Node, input: &[char], pos: usize, k: &mut dyn FnMut(usize) -> bool) -> bool {
    match node {
        Node::Char(c) => input.get(pos) == Some(c) && k(pos + 1),
        Node::Class { ranges, negated } => match input.get(pos) {
            Some(ch) => {
                ranges.iter().any(|(lo, hi)| (lo..=hi).contains(&ch)) != *negated && k(pos + 1)
            }
            None => false,
        },
        Node::Group(inner) => match_seq(inner, input, pos, k),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn m(p: &str, t: &str) -> bool {
        Pattern::parse(p).unwrap().is_match(t)
    }

    #[test]
    fn patterns() {
        let sku = "^[A-Z0-9][A-Z0-9-]{0,31}$";
        assert!(m(sku, "SKU-1") && m(sku, "A") && m(sku, &"A".repeat(32)));
        assert!(!m(sku, "") && !m(sku, "-A") && !m(sku, "a") && !m(sku, &"A".repeat(33)));
        let cust = "^[A-Za-z0-9_-]{1,64}$";
        assert!(m(cust, "cust_4-2") && !m(cust, "a b") && !m(cust, ""));
        let uuid = "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$";
        assert!(m(uuid, "ab3e28ef-1ea8-87f2-bd59-5b468e287c8a"));
        assert!(
            !m(uuid, "AB3E28EF-1EA8-87F2-BD59-5B468E287C8A")
                && !m(uuid, "ab3e28ef1ea887f2bd595b468e287c8a")
        );
        let time = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?Z$";
        assert!(m(time, "2026-11-26T12:00:00Z") && m(time, "2026-11-26T12:00:00.250Z"));
        assert!(!m(time, "2026-11-26T12:00:00.Z") && !m(time, "2026-11-26T12:00:00+00:00"));
        assert!(!m(time, "2026-11-26 12:00:00Z"));
        // Backtracking through optional and repeated groups.
        assert!(m("^(ab)*a$", "ababa") && !m("^(ab)*a$", "abab"));
        assert!(m(r"^a+\d?b*$", "aaa7bb") && !m(r"^a+\d?b*$", "7"));
        assert!(m("^[^x]{2}$", "ab") && !m("^[^x]{2}$", "ax"));
    }

    #[test]
    fn unsupported_patterns_are_refused() {
        assert!(Pattern::parse("abc").is_err(), "unanchored");
        assert!(Pattern::parse("^a.b$").is_err());
        assert!(Pattern::parse("^a|b$").is_err());
        assert!(Pattern::parse("^(a|b)$").is_err());
        assert!(Pattern::parse(r"^\w$").is_err());
        assert!(Pattern::parse("^(ab$").is_err());
    }

    #[test]
    fn keywords() {
        let s = json!({
            "type": "object", "required": ["a", "n"], "additionalProperties": false,
            "properties": {
                "a": {"type": "array", "minItems": 1, "maxItems": 2, "uniqueItems": true, "items": {"type": "string", "minLength": 1, "maxLength": 3}},
                "n": {"type": "integer", "minimum": 1, "maximum": 5},
                "c": {"const": 1},
                "e": {"enum": ["x", "y"]}
            }
        });
        assert_eq!(validate(&s, &json!({"a": ["x"], "n": 1})), Ok(()));
        assert_eq!(
            validate(&s, &json!({"a": ["x"], "n": 5.0, "c": 1.0, "e": "y"})),
            Ok(())
        );
        let bad = [
            json!({"a": ["x"]}),
            json!({"a": [], "n": 1}),
            json!({"a": ["x", "y", "z"], "n": 1}),
            json!({"a": ["x", "x"], "n": 1}),
            json!({"a": [""], "n": 1}),
            json!({"a": ["long"], "n": 1}),
            json!({"a": [1], "n": 1}),
            json!({"a": ["x"], "n": 0}),
            json!({"a": ["x"], "n": 6}),
            json!({"a": ["x"], "n": 1.5}),
            json!({"a": ["x"], "n": "1"}),
            json!({"a": ["x"], "n": 1, "c": 2}),
            json!({"a": ["x"], "n": 1, "e": "z"}),
            json!({"a": ["x"], "n": 1, "extra": true}),
            json!([]),
        ];
        for b in bad {
            assert!(validate(&s, &b).is_err(), "{b} should fail");
        }
    }

    #[test]
    fn unknown_keywords_fail_loudly() {
        let s = json!({"type": "object", "oneOf": []});
        let e = validate(&s, &json!({})).unwrap_err();
        assert!(e[0].contains("oneOf"), "{e:?}");
    }
}
