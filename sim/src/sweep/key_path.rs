//! A `--param` key as a path into the cluster file: dotted names through tables, and through
//! arrays of tables by the entry's `name` (`service.frontend.rps_per_pod`,
//! `request.checkout.rate`) or by its position from 0 (`service.0.rps_per_pod`,
//! `cluster.node_group.1.count`). The value at the end must be a number, or absent (then it is
//! added, as `traffic.scale` in a file that does not write it).

/// Arrays of tables a path may go through, as the file writes them: reaching one that the file
/// does not have is an error, rather than a table created in its place.
const ENTRY_ARRAYS: [&str; 3] = ["service", "request", "node_group"];

/// The cluster file's text with `key` set to `value`.
pub fn apply(text: &str, key: &[String], value: &toml::Value) -> Result<String, String> {
    let mut table: toml::Table = toml::from_str(text).map_err(|e| e.message().to_string())?;
    set(&mut table, key, value)?;
    toml::to_string(&table).map_err(|e| e.to_string())
}

fn set(root: &mut toml::Table, key: &[String], value: &toml::Value) -> Result<(), String> {
    let whole = key.join(".");
    let (last, parents) = key.split_last().ok_or("an empty key")?;
    let mut at = root;
    let mut i = 0;
    while i < parents.len() {
        let k = &parents[i];
        if ENTRY_ARRAYS.contains(&k.as_str()) {
            let Some(toml::Value::Array(entries)) = at.get_mut(k) else {
                return Err(format!("{whole}: the file has no [[{k}]] entries"));
            };
            let Some(selector) = parents.get(i + 1) else {
                return Err(format!(
                    "{whole}: name a [[{k}]] entry and a key, as in {k}.NAME.KEY"
                ));
            };
            at = entry(entries, k, selector, &whole)?;
            i += 2;
            continue;
        }
        let next = at
            .entry(k.clone())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        at = next
            .as_table_mut()
            .ok_or_else(|| format!("{whole}: `{k}` is not a table"))?;
        i += 1;
    }
    match at.get(last) {
        None | Some(toml::Value::Integer(_) | toml::Value::Float(_)) => {}
        Some(other) => {
            return Err(format!(
                "{whole} is {} in the file, not a number",
                describe(other)
            ))
        }
    }
    at.insert(last.clone(), value.clone());
    Ok(())
}

/// The entry of `[[array]]` named `selector`, or at position `selector` when none is so named.
fn entry<'a>(
    entries: &'a mut [toml::Value],
    array: &str,
    selector: &str,
    whole: &str,
) -> Result<&'a mut toml::Table, String> {
    let named = entries
        .iter()
        .position(|e| e.get("name").and_then(|n| n.as_str()) == Some(selector));
    let position = named.or_else(|| {
        selector
            .parse::<usize>()
            .ok()
            .filter(|&i| i < entries.len())
    });
    let Some(position) = position else {
        let names: Vec<&str> = entries
            .iter()
            .filter_map(|e| e.get("name").and_then(|n| n.as_str()))
            .take(10)
            .collect();
        return Err(format!(
            "{whole}: no [[{array}]] named `{selector}` (the file has {}{}; or give a position from 0 to {})",
            names.join(", "),
            if entries.len() > names.len() { ", …" } else { "" },
            entries.len().saturating_sub(1)
        ));
    };
    entries[position]
        .as_table_mut()
        .ok_or_else(|| format!("{whole}: [[{array}]] entry {position} is not a table"))
}

fn describe(value: &toml::Value) -> &'static str {
    match value {
        toml::Value::String(_) => "a string",
        toml::Value::Boolean(_) => "a bool",
        toml::Value::Array(_) => "a list",
        toml::Value::Table(_) => "a table",
        _ => "a date",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(path: &str) -> Vec<String> {
        path.split('.').map(str::to_string).collect()
    }

    const FILE: &str = "[cluster]\nnodes = 3\n[[service]]\nname = \"frontend\"\nreplicas = 2\nrps_per_pod = 5.0\ncall_mode = \"parallel\"\n[[service]]\nname = \"cart\"\nreplicas = 1\n";

    #[test]
    fn sets_tables_and_adds_missing_ones() {
        let text = apply(FILE, &key("traffic.scale"), &toml::Value::Float(2.0)).unwrap();
        assert!(text.contains("[traffic]\nscale = 2.0"), "{text}");
        assert!(text.contains("nodes = 3"), "{text}");
    }

    #[test]
    fn reaches_services_by_name_and_by_position() {
        let text = apply(
            FILE,
            &key("service.cart.rps_per_pod"),
            &toml::Value::Integer(7),
        )
        .unwrap();
        let v: toml::Table = toml::from_str(&text).unwrap();
        assert_eq!(v["service"][1]["rps_per_pod"].as_integer(), Some(7));
        assert_eq!(v["service"][0]["rps_per_pod"].as_float(), Some(5.0));
        let text = apply(FILE, &key("service.0.replicas"), &toml::Value::Integer(9)).unwrap();
        let v: toml::Table = toml::from_str(&text).unwrap();
        assert_eq!(v["service"][0]["replicas"].as_integer(), Some(9));
    }

    #[test]
    fn reaches_request_types_by_name() {
        let file =
            format!("{FILE}[[request]]\nname = \"checkout\"\nentry = \"frontend\"\nrate = 5.0\n");
        let text = apply(
            &file,
            &key("request.checkout.rate"),
            &toml::Value::Float(9.5),
        )
        .unwrap();
        let v: toml::Table = toml::from_str(&text).unwrap();
        assert_eq!(v["request"][0]["rate"].as_float(), Some(9.5));
    }

    #[test]
    fn wrong_paths_say_what_the_file_has() {
        let one = toml::Value::Integer(1);
        let e = apply(FILE, &key("service.checkout.rps_per_pod"), &one).unwrap_err();
        assert!(
            e.contains("no [[service]] named `checkout`") && e.contains("frontend, cart"),
            "{e}"
        );
        let e = apply(FILE, &key("request.checkout.rate"), &one).unwrap_err();
        assert!(e.contains("has no [[request]] entries"), "{e}");
        let e = apply(FILE, &key("service.frontend.call_mode"), &one).unwrap_err();
        assert!(e.contains("is a string in the file, not a number"), "{e}");
        let e = apply(FILE, &key("service.frontend"), &one).unwrap_err();
        assert!(e.contains("service.NAME.KEY"), "{e}");
        let e = apply(FILE, &key("cluster.nodes.x"), &one).unwrap_err();
        assert!(e.contains("`nodes` is not a table"), "{e}");
    }
}
