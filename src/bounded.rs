//! Builtins whose regorus versions build their whole result in one call, where neither the
//! time limit nor the memory limit can stop them: `replace("x...", "x", big)` made a 24 GB
//! string, `net.cidr_expand("10.0.0.0/8")` ran for a minute and held 1 GB. These overrides
//! (extensions are looked up before builtins) compute the same values, refusing results past
//! a bound before they are built.

use regorus::{Engine, Value as RValue};

use crate::error::{Error, Result};

/// Longest string `replace`, `strings.replace_n` and `regex.replace` may build: 128 MiB.
pub const MAX_BUILT_STRING: usize = 128 << 20;

/// Most addresses `net.cidr_expand` may list: 2^20 (a /12 of IPv4).
pub const MAX_CIDR_HOSTS: u128 = 1 << 20;

/// Installs the overrides on `engine`.
pub fn install(engine: &mut Engine) -> Result<()> {
    let mut add = |name: &str, n: u8, f: fn(&[RValue]) -> anyhow::Result<RValue>| {
        engine
            .add_extension(name.into(), n, Box::new(move |args: Vec<RValue>| f(&args)))
            .map_err(|e| Error::usage(format!("cannot bound {name}: {e}")))
    };
    add("concat", 2, concat)?;
    add("replace", 3, replace)?;
    add("strings.replace_n", 2, replace_n)?;
    add("regex.replace", 3, regex_replace)?;
    add("net.cidr_expand", 1, cidr_expand)?;
    Ok(())
}

fn string<'v>(name: &str, v: Option<&'v RValue>) -> anyhow::Result<&'v str> {
    match v {
        Some(RValue::String(s)) => Ok(s),
        _ => anyhow::bail!("{name} expects string arguments"),
    }
}

fn too_long(name: &str, len: usize) -> anyhow::Error {
    anyhow::anyhow!(
        "{name} would build a string of {len} bytes or more; quorate allows at most {MAX_BUILT_STRING}"
    )
}

/// Refuses a result of `len` bytes that would take the process past the policy memory limit
/// (`--max-policy-memory`): checked before the result is allocated, not after.
fn fits(len: usize) -> anyhow::Result<()> {
    if let Some(limit) = regorus::global_memory_limit() {
        let (stats, _) = regorus_mimalloc::allocation_stats_snapshot();
        let usage = stats.allocated.saturating_add(len as u64);
        if usage > limit {
            return Err(anyhow::Error::new(
                regorus::LimitError::MemoryLimitExceeded { usage, limit },
            ));
        }
    }
    Ok(())
}

/// Joins a collection of strings, as the builtin does.
fn concat(args: &[RValue]) -> anyhow::Result<RValue> {
    let name = "concat";
    let delimiter = string(name, args.first())?;
    let items: Vec<&RValue> = match args.get(1) {
        Some(RValue::Array(a)) => a.iter().collect(),
        Some(RValue::Set(s)) => s.iter().collect(),
        _ => anyhow::bail!("{name} expects a collection of strings"),
    };
    let mut parts = Vec::with_capacity(items.len());
    for item in items {
        match item {
            RValue::String(s) => parts.push(s.as_ref()),
            _ => anyhow::bail!("{name} expects a collection of strings"),
        }
    }
    let len = parts.iter().map(|p| p.len()).sum::<usize>()
        + delimiter.len() * parts.len().saturating_sub(1);
    fits(len)?;
    Ok(RValue::String(parts.join(delimiter).into()))
}

/// `s` with every `old` replaced by `new`, as Go's strings.ReplaceAll (an empty `old` inserts
/// `new` around every character), refused when the result would pass the bound.
fn replace_all(name: &str, s: &str, old: &str, new: &str) -> anyhow::Result<String> {
    let count = if old.is_empty() {
        s.chars().count() + 1
    } else {
        s.matches(old).count()
    };
    let len = (s.len() - count.saturating_mul(old.len()).min(s.len()))
        .saturating_add(count.saturating_mul(new.len()));
    if len > MAX_BUILT_STRING {
        return Err(too_long(name, len));
    }
    fits(len)?;
    Ok(s.replace(old, new))
}

fn replace(args: &[RValue]) -> anyhow::Result<RValue> {
    let name = "replace";
    let (s, old, new) = (
        string(name, args.first())?,
        string(name, args.get(1))?,
        string(name, args.get(2))?,
    );
    Ok(RValue::String(replace_all(name, s, old, new)?.into()))
}

/// As regorus does it: each pattern in key order, over the result of the one before.
fn replace_n(args: &[RValue]) -> anyhow::Result<RValue> {
    let name = "strings.replace_n";
    let patterns = args
        .first()
        .and_then(|v| v.as_object().ok())
        .ok_or_else(|| anyhow::anyhow!("{name} expects an object of patterns"))?;
    let mut s = string(name, args.get(1))?.to_string();
    let mut keys: Vec<(&RValue, &RValue)> = patterns.iter().collect();
    keys.sort_by(|a, b| a.0.cmp(b.0));
    for (k, v) in keys {
        let (RValue::String(k), RValue::String(v)) = (k, v) else {
            anyhow::bail!("`{name}` expects string keys and values in pattern object.");
        };
        s = replace_all(name, &s, k, v)?;
    }
    Ok(RValue::String(s.into()))
}

fn regex_replace(args: &[RValue]) -> anyhow::Result<RValue> {
    let name = "regex.replace";
    let (s, pattern, value) = (
        string(name, args.first())?,
        string(name, args.get(1))?,
        string(name, args.get(2))?,
    );
    // regorus' size limit for compiled patterns; a pattern that does not compile is undefined.
    let Ok(re) = regex::RegexBuilder::new(pattern)
        .size_limit(100 * 1024)
        .build()
    else {
        return Ok(RValue::Undefined);
    };
    let mut out = String::new();
    let mut last = 0;
    for caps in re.captures_iter(s) {
        let Some(m) = caps.get(0) else { continue };
        out.push_str(s.get(last..m.start()).unwrap_or_default());
        caps.expand(value, &mut out);
        last = m.end();
        if out.len() > MAX_BUILT_STRING {
            return Err(too_long(name, out.len()));
        }
    }
    out.push_str(s.get(last..).unwrap_or_default());
    Ok(RValue::String(out.into()))
}

fn cidr_expand(args: &[RValue]) -> anyhow::Result<RValue> {
    let name = "net.cidr_expand";
    let cidr = string(name, args.first())?;
    let net: ipnet::IpNet = cidr
        .parse()
        .map_err(|e| anyhow::anyhow!("Error parsing {cidr}: {e}"))?;
    let bits = match net {
        ipnet::IpNet::V4(_) => 32,
        ipnet::IpNet::V6(_) => 128,
    } - u32::from(net.prefix_len());
    let count = 1u128.checked_shl(bits).unwrap_or(u128::MAX);
    if count > MAX_CIDR_HOSTS {
        anyhow::bail!("{name}(\"{cidr}\") would list {count} addresses; quorate allows at most {MAX_CIDR_HOSTS}");
    }
    let mut hosts: Vec<RValue> = net.hosts().map(|h| RValue::from(h.to_string())).collect();
    // As regorus (and OPA): IPv4 networks wider than /31 include network and broadcast.
    if matches!(net, ipnet::IpNet::V4(_) if net.prefix_len() < 31) {
        hosts.push(RValue::from(net.broadcast().to_string()));
        hosts.insert(0, RValue::from(net.network().to_string()));
    }
    Ok(RValue::from(hosts))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &str) -> RValue {
        RValue::from(v)
    }

    #[test]
    fn results_match_the_builtins_below_the_bound() {
        assert_eq!(replace(&[s("a-b-c"), s("-"), s("+")]).unwrap(), s("a+b+c"));
        assert_eq!(replace(&[s("ab"), s(""), s("x")]).unwrap(), s("xaxbx"));
        assert_eq!(
            regex_replace(&[s("a1b22"), s("([0-9]+)"), s("<$1>")]).unwrap(),
            s("a<1>b<22>")
        );
        let v = cidr_expand(&[s("10.0.0.0/30")]).unwrap();
        assert_eq!(
            serde_json::to_string(&v).unwrap(),
            r#"["10.0.0.0","10.0.0.1","10.0.0.2","10.0.0.3"]"#
        );
    }

    #[test]
    fn amplification_is_refused_before_it_is_built() {
        let big = "1".repeat(100_000);
        let e = replace(&[s(&big), s("1"), s(&big)])
            .unwrap_err()
            .to_string();
        assert!(e.contains("quorate allows at most"), "{e}");
        let e = regex_replace(&[s(&big), s("1"), s(&big)])
            .unwrap_err()
            .to_string();
        assert!(e.contains("quorate allows at most"), "{e}");
        let e = cidr_expand(&[s("10.0.0.0/8")]).unwrap_err().to_string();
        assert!(e.contains("16777216 addresses"), "{e}");
    }
}
