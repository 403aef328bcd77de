//! Undo and redo: whole-document snapshots (graphs are small), with
//! consecutive edits of one field merged into one step.

use crate::document::Document;

/// At most this many steps back.
const DEPTH: usize = 200;

#[derive(Default)]
pub struct History {
    undo: Vec<(Document, Option<String>)>,
    redo: Vec<Document>,
}

impl History {
    /// Records `before`, the document as it was before an edit. Edits with
    /// the same `merge` key in a row make one step (typing in one field).
    pub fn record(&mut self, before: &Document, merge: Option<&str>) {
        self.redo.clear();
        if let (Some(key), Some((_, Some(last)))) = (merge, self.undo.last()) {
            if key == last {
                return;
            }
        }
        self.undo.push((before.clone(), merge.map(str::to_string)));
        if self.undo.len() > DEPTH {
            self.undo.remove(0);
        }
    }

    /// The document before the last step, given the current one.
    pub fn undo(&mut self, current: &Document) -> Option<Document> {
        let (d, _) = self.undo.pop()?;
        self.redo.push(current.clone());
        Some(d)
    }

    pub fn redo(&mut self, current: &Document) -> Option<Document> {
        let d = self.redo.pop()?;
        self.undo.push((current.clone(), None));
        Some(d)
    }

    pub fn can_undo(&self) -> bool {
        !self.undo.is_empty()
    }

    pub fn can_redo(&self) -> bool {
        !self.redo.is_empty()
    }

    pub fn clear(&mut self) {
        self.undo.clear();
        self.redo.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::document::Scalar;

    #[test]
    fn undo_redo_and_merged_typing() {
        let mut h = History::default();
        let mut doc =
            Document::parse("blocks:\n  - {id: a, type: head, params: {count: 1}}\n").unwrap();
        let first = doc.clone();
        for text in ["12", "123"] {
            h.record(&doc, Some("a.count"));
            doc.blocks[0].set_param("count", Some(Scalar::plain(text)));
        }
        h.record(&doc, None);
        doc.remove_block("a");
        let typed = h.undo(&doc).unwrap();
        assert_eq!(typed.blocks[0].param("count"), Some(&Scalar::plain("123")));
        let back = h.undo(&typed).unwrap();
        assert_eq!(back, first, "both keystrokes are one step");
        assert!(!h.can_undo());
        let again = h.redo(&back).unwrap();
        assert_eq!(again, typed);
    }
}
