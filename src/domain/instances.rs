//! Turning files a user drops on the Predict playground into a request body: JSON (a
//! request or a list of instances), JSONL (one instance a line), CSV (a header naming the
//! model's inputs gives objects, other rows give number arrays) and images (base64).

use base64::Engine as _;
use serde_json::{Map, Value, json};

/// A request made from a file.
#[derive(Debug, Clone, PartialEq)]
pub struct FileRequest {
    /// `{"instances": [...]}`, pretty-printed.
    pub body: String,
    /// How many instances it holds.
    pub instances: usize,
}

/// Builds a request from a file's name and bytes; `inputs` are the model's input names.
pub fn request_from_file(
    file_name: &str,
    bytes: &[u8],
    inputs: &[String],
) -> Result<FileRequest, String> {
    let extension = file_name
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    let instances = match extension.as_str() {
        "json" => from_json(bytes)?,
        "jsonl" | "ndjson" => from_jsonl(bytes)?,
        "csv" => from_csv(bytes, inputs)?,
        "png" | "jpg" | "jpeg" | "gif" | "bmp" | "webp" => {
            let encoded = base64::engine::general_purpose::STANDARD.encode(bytes);
            let b64 = json!({ "b64": encoded });
            match inputs {
                [_, _, ..] => vec![json!({ inputs[0].clone(): b64 })],
                _ => vec![b64],
            }
        }
        _ => {
            return Err(format!(
                "{file_name}: drop a .json, .jsonl, .csv or image file (png, jpg, gif, bmp, webp)"
            ));
        }
    };
    if instances.is_empty() {
        return Err(format!("{file_name} holds no instances"));
    }
    let count = instances.len();
    let body = serde_json::to_string_pretty(&json!({ "instances": instances }))
        .map_err(|e| e.to_string())?;
    Ok(FileRequest {
        body,
        instances: count,
    })
}

fn text(bytes: &[u8]) -> Result<&str, String> {
    std::str::from_utf8(bytes).map_err(|e| format!("the file is not UTF-8 text: {e}"))
}

fn from_json(bytes: &[u8]) -> Result<Vec<Value>, String> {
    let value: Value =
        serde_json::from_slice(bytes).map_err(|e| format!("the file is not valid JSON: {e}"))?;
    match value {
        Value::Object(mut map) if map.contains_key("instances") => match map.remove("instances") {
            Some(Value::Array(items)) => Ok(items),
            _ => Err("\"instances\" in the file is not a list".into()),
        },
        Value::Array(items) => Ok(items),
        other => Ok(vec![other]),
    }
}

fn from_jsonl(bytes: &[u8]) -> Result<Vec<Value>, String> {
    text(bytes)?
        .lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(index, line)| {
            serde_json::from_str(line)
                .map_err(|e| format!("line {}: not valid JSON: {e}", index + 1))
        })
        .collect()
}

fn from_csv(bytes: &[u8], inputs: &[String]) -> Result<Vec<Value>, String> {
    let mut lines = text(bytes)?
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty());
    let Some((_, first)) = lines.next() else {
        return Ok(Vec::new());
    };
    let first_cells = split_csv(first);
    let is_header = first_cells.iter().any(|c| c.parse::<f64>().is_err());
    let named = is_header && !inputs.is_empty() && first_cells.iter().all(|c| inputs.contains(c));
    let mut instances = Vec::new();
    if !is_header {
        instances.push(Value::Array(first_cells.iter().map(|c| cell(c)).collect()));
    }
    for (index, line) in lines {
        let cells = split_csv(line);
        if cells.len() != first_cells.len() {
            return Err(format!(
                "line {}: {} values, but the first line has {}",
                index + 1,
                cells.len(),
                first_cells.len()
            ));
        }
        instances.push(if named {
            let map: Map<String, Value> = first_cells
                .iter()
                .zip(&cells)
                .map(|(name, c)| (name.clone(), cell(c)))
                .collect();
            Value::Object(map)
        } else {
            Value::Array(cells.iter().map(|c| cell(c)).collect())
        });
    }
    Ok(instances)
}

/// A number where the cell is one, else the text.
fn cell(text: &str) -> Value {
    match text.parse::<f64>() {
        Ok(n) if text.parse::<i64>().is_ok() => json!(n as i64),
        Ok(n) => json!(n),
        Err(_) => json!(text),
    }
}

/// Splits a CSV line, honouring double quotes.
fn split_csv(line: &str) -> Vec<String> {
    let mut cells = Vec::new();
    let mut cell = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                cell.push('"');
                chars.next();
            }
            '"' => quoted = !quoted,
            ',' if !quoted => cells.push(std::mem::take(&mut cell).trim().to_owned()),
            _ => cell.push(c),
        }
    }
    cells.push(cell.trim().to_owned());
    cells
}

#[cfg(test)]
mod tests {
    use super::*;

    fn instances(body: &str) -> Value {
        serde_json::from_str::<Value>(body).unwrap()["instances"].clone()
    }

    #[test]
    fn json_takes_a_request_a_list_or_one_instance() {
        let r = request_from_file("a.json", br#"{"instances": [[1, 2]]}"#, &[]).unwrap();
        assert_eq!(instances(&r.body), json!([[1, 2]]));
        let r = request_from_file("a.json", b"[[1, 2], [3, 4]]", &[]).unwrap();
        assert_eq!(r.instances, 2);
        assert!(request_from_file("a.json", b"[1, 2", &[]).is_err());
    }

    #[test]
    fn jsonl_is_one_instance_a_line_and_names_a_bad_line() {
        let r = request_from_file("a.jsonl", b"[1, 2]\n\n[3, 4]\n", &[]).unwrap();
        assert_eq!(instances(&r.body), json!([[1, 2], [3, 4]]));
        let err = request_from_file("a.jsonl", b"[1]\n[2\n", &[]).unwrap_err();
        assert!(err.starts_with("line 2"), "{err}");
    }

    #[test]
    fn csv_headers_naming_inputs_give_objects_others_give_arrays() {
        let inputs = vec!["a".to_owned(), "b".to_owned()];
        let r = request_from_file("x.csv", b"a,b\n1,2.5\n3,\"4\"\n", &inputs).unwrap();
        assert_eq!(
            instances(&r.body),
            json!([{ "a": 1, "b": 2.5 }, { "a": 3, "b": 4 }])
        );
        let r = request_from_file("x.csv", b"sepal,petal\n1,2\n", &["X".into()]).unwrap();
        assert_eq!(instances(&r.body), json!([[1, 2]]));
        let r = request_from_file("x.csv", b"1,2\n3,4\n", &[]).unwrap();
        assert_eq!(instances(&r.body), json!([[1, 2], [3, 4]]));
        assert!(request_from_file("x.csv", b"1,2\n3\n", &[]).is_err());
    }

    #[test]
    fn images_become_base64_and_other_files_are_refused() {
        let r = request_from_file("cat.PNG", &[0x89, b'P', b'N', b'G'], &[]).unwrap();
        assert_eq!(instances(&r.body), json!([{ "b64": "iVBORw==" }]));
        let err = request_from_file("model.onnx", b"", &[]).unwrap_err();
        assert!(err.contains(".jsonl"), "{err}");
    }
}
