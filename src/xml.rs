//! One guard in front of every XML parse, the tool's (farm metadata, WS-Trust answers) and the
//! rehearsal tenant's (WS-Trust requests to its farms): the size, the element depth and the node count
//! are bounded before roxmltree, which recurses once per element, sees the document, and no DTD is
//! accepted (so no entity expansion). Depth is counted by quick-xml's streaming reader, which reads
//! processing instructions, comments, CDATA sections and doctypes as XML defines them, in a loop
//! that holds no stack per level: a hand-written scanner once ended a processing instruction at its
//! first `>` and so missed 20,000 levels behind `<?x a> <!-- ?>`.

use quick_xml::events::Event;

/// Real federation documents nest about ten elements deep.
pub const MAX_DEPTH: usize = 128;
const MAX_NODES: u32 = 200_000;

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum XmlError {
    #[error("the document is {0} bytes; at most {1} are accepted")]
    TooLarge(usize, usize),
    #[error("the document nests elements more than {MAX_DEPTH} deep; no federation document does")]
    TooDeep,
    #[error("the document is not well-formed XML: {0}")]
    Malformed(String),
}

/// The deepest point is at most `MAX_DEPTH`, counted by a streaming reader; the first error it
/// meets is returned as `Malformed`.
pub fn check_depth(text: &str) -> Result<(), XmlError> {
    let mut reader = quick_xml::Reader::from_str(text);
    let mut depth = 0usize;
    loop {
        match reader.read_event() {
            Ok(Event::Start(_)) => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return Err(XmlError::TooDeep);
                }
            }
            Ok(Event::End(_)) => depth = depth.saturating_sub(1),
            Ok(Event::Eof) => return Ok(()),
            Ok(_) => {}
            Err(e) => {
                return Err(XmlError::Malformed(
                    e.to_string().chars().take(200).collect(),
                ));
            }
        }
    }
}

/// Parses `text` (at most `max_bytes`, a leading byte-order mark allowed) once the guard has passed.
pub fn parse(text: &str, max_bytes: usize) -> Result<roxmltree::Document<'_>, XmlError> {
    if text.len() > max_bytes {
        return Err(XmlError::TooLarge(text.len(), max_bytes));
    }
    let text = text.trim_start_matches('\u{feff}');
    check_depth(text)?;
    let options = roxmltree::ParsingOptions {
        allow_dtd: false,
        nodes_limit: MAX_NODES,
    };
    roxmltree::Document::parse_with_options(text, options)
        .map_err(|e| XmlError::Malformed(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deep(n: usize) -> String {
        format!("{}{}", "<a>".repeat(n), "</a>".repeat(n))
    }

    #[test]
    fn depth_is_counted_as_xml_defines_it() {
        assert_eq!(check_depth(&deep(MAX_DEPTH)), Ok(()));
        assert_eq!(check_depth(&deep(MAX_DEPTH + 1)), Err(XmlError::TooDeep));
        // What hid the depth from the hand-written scanner: a `>` inside a processing instruction,
        // then what looks like a comment's start inside it.
        let hidden = format!("<?x a> <!-- ?>{}", deep(20_000));
        assert_eq!(check_depth(&hidden), Err(XmlError::TooDeep));
        assert!(parse(&hidden, usize::MAX).is_err());
        // A comment, CDATA or attribute holding tags counts for nothing.
        let quiet = format!(
            "<r a=\"b> c>\"><!-- {} --><![CDATA[{}]]></r>",
            "<c>".repeat(500),
            "<d>".repeat(500)
        );
        assert!(parse(&quiet, usize::MAX).is_ok());
        let e = parse("<a>", usize::MAX).map(|_| ()).unwrap_err();
        assert!(e.to_string().contains("well-formed"), "{e}");
        assert_eq!(parse(&deep(3), 5).unwrap_err(), XmlError::TooLarge(21, 5));
        assert!(parse("<!DOCTYPE a [<!ENTITY e \"x\">]><a>&e;</a>", usize::MAX).is_err());
    }
}
