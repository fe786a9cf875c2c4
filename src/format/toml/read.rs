//! Parsing: the tree and the layout of a TOML file.

use super::*;

/// Classifies a leaf: its kind and tree value.
pub(super) fn classify(raw: &str, v: &toml_edit::Value) -> (Kind, Value) {
    let raw_leaf = || (Kind::Raw, Value::Str(raw.to_string()));
    match v {
        toml_edit::Value::String(s) => {
            let s = s.value();
            for kind in [
                Kind::Str,
                Kind::StrLiteral,
                Kind::StrMultiline,
                Kind::StrMultilineLiteral,
            ] {
                if render_str(kind, s) == raw {
                    return (kind, Value::Str(s.clone()));
                }
            }
            raw_leaf()
        }
        toml_edit::Value::Integer(i) if i.value().to_string() == raw => {
            (Kind::Int, Value::Int(*i.value()))
        }
        toml_edit::Value::Float(f) if render_float(*f.value()) == raw => {
            (Kind::Float, Value::Float(*f.value()))
        }
        toml_edit::Value::Boolean(b) => (Kind::Bool, Value::Bool(*b.value())),
        toml_edit::Value::Datetime(d) => match datetime_kind(d.value()) {
            Some(kind) => (kind, Value::Str(raw.to_string())),
            None => match Timestamp::parse_rfc3339(raw) {
                Some(t) if t.to_rfc3339_nano() == raw => (Kind::Time, Value::Time(t)),
                _ => raw_leaf(),
            },
        },
        _ => raw_leaf(),
    }
}

pub(super) struct Builder<'s> {
    pub(super) src: &'s str,
    pub(super) encrypted: bool,
}

impl Builder<'_> {
    pub(super) fn leaf(&self, v: &toml_edit::Value) -> Result<Node, FormatError> {
        let span = v
            .span()
            .ok_or_else(|| FormatError::Parse("toml: a value has no position".into()))?;
        let raw = &self.src[span.clone()];
        let (mut kind, mut value) = classify(raw, v);
        if self.encrypted {
            if let Value::Str(s) = &mut value {
                if is_enc_envelope(s) {
                    if let Some(special) = s
                        .strip_suffix(']')
                        .and_then(|r| r.rsplit_once(",type:"))
                        .and_then(|(_, t)| Kind::from_special(t))
                    {
                        let cut = s.rfind(",type:").unwrap_or(s.len());
                        s.truncate(cut);
                        s.push_str(",type:str]");
                        kind = special;
                    }
                }
            }
        }
        Ok(Node::Leaf(Leaf { span, value, kind }))
    }

    pub(super) fn value(&self, v: &toml_edit::Value) -> Result<(Node, usize), FormatError> {
        let anchor = v.span().map_or(usize::MAX, |s| s.start);
        match v {
            toml_edit::Value::Array(a) => {
                let mut items = Vec::new();
                for e in a.iter() {
                    // Elements are no comment anchors: comments never become
                    // list elements, so indices count values only.
                    let (node, _) = self.value(e)?;
                    items.push(node);
                }
                Ok((Node::List(items), anchor))
            }
            toml_edit::Value::InlineTable(t) => {
                let mut slots = Vec::new();
                for (k, v) in t.iter() {
                    let key_anchor = t.key(k).and_then(|k| k.span()).map(|s| s.start);
                    let (node, a) = self.value(v)?;
                    slots.push(MapSlot::Entry {
                        key: k.to_string(),
                        node,
                        anchor: key_anchor.unwrap_or(a),
                    });
                }
                Ok((Node::Map(slots), anchor))
            }
            leaf => Ok((self.leaf(leaf)?, anchor)),
        }
    }

    pub(super) fn table(
        &self,
        t: &toml_edit::Table,
        skip_sops: bool,
    ) -> Result<Vec<MapSlot>, FormatError> {
        let mut slots = Vec::new();
        for (k, item) in t.iter() {
            if skip_sops && k == "sops" {
                continue;
            }
            let key_anchor = t.key(k).and_then(|k| k.span()).map(|s| s.start);
            let (node, anchor) = self.item(item)?;
            let anchor = match item {
                toml_edit::Item::Value(_) => key_anchor.unwrap_or(anchor),
                _ => anchor,
            };
            slots.push(MapSlot::Entry {
                key: k.to_string(),
                node,
                anchor,
            });
        }
        Ok(slots)
    }

    pub(super) fn item(&self, item: &toml_edit::Item) -> Result<(Node, usize), FormatError> {
        match item {
            toml_edit::Item::Value(v) => self.value(v),
            toml_edit::Item::Table(t) => {
                let slots = self.table(t, false)?;
                let anchor = if t.is_implicit() || t.is_dotted() || t.span().is_none() {
                    min_anchor_map(&slots)
                } else {
                    t.span().map_or(usize::MAX, |s| s.start)
                };
                Ok((Node::Map(slots), anchor))
            }
            toml_edit::Item::ArrayOfTables(a) => {
                let mut items = Vec::new();
                let mut anchor = usize::MAX;
                for t in a.iter() {
                    let slots = self.table(t, false)?;
                    // Neither the `[[…]]` headers nor the elements are
                    // comment anchors: a comment before a header goes to
                    // the element's first key, wherever the element is.
                    anchor = anchor.min(min_anchor_map(&slots));
                    items.push(Node::Map(slots));
                }
                Ok((Node::List(items), anchor))
            }
            toml_edit::Item::None => Ok((Node::Map(Vec::new()), usize::MAX)),
        }
    }
}

pub(super) fn min_anchor_map(slots: &[MapSlot]) -> usize {
    slots
        .iter()
        .map(|s| match s {
            MapSlot::Entry { anchor, .. } => *anchor,
            MapSlot::Comment(r) => r.start,
        })
        .min()
        .unwrap_or(usize::MAX)
}

pub(super) enum NodeRef<'a> {
    Map(&'a [MapSlot]),
    List(&'a [Node]),
    Leaf(&'a Range<usize>),
}

impl<'a> NodeRef<'a> {
    pub(super) fn of(node: &'a Node) -> Self {
        match node {
            Node::Map(m) => NodeRef::Map(m),
            Node::List(l) => NodeRef::List(l),
            Node::Leaf(l) => NodeRef::Leaf(&l.span),
        }
    }
}

pub(super) fn leaf_spans(node: &NodeRef<'_>, out: &mut Vec<Range<usize>>) {
    match node {
        NodeRef::Map(slots) => {
            for s in slots.iter() {
                if let MapSlot::Entry { node, .. } = s {
                    leaf_spans(&NodeRef::of(node), out);
                }
            }
        }
        NodeRef::List(slots) => {
            for node in slots.iter() {
                leaf_spans(&NodeRef::of(node), out);
            }
        }
        NodeRef::Leaf(span) => out.push((*span).clone()),
    }
}

pub(super) fn to_tree(src: &str, slots: &[MapSlot], encrypted: bool) -> Map {
    let mut map = Map::new();
    for s in slots {
        match s {
            MapSlot::Entry { key, node, .. } => {
                map.push(key.clone(), node_value(src, node, encrypted))
            }
            MapSlot::Comment(r) => map
                .0
                .push(Item::Comment(Comment::new(&src[r.start + 1..r.end]))),
        }
    }
    map
}

pub(super) fn node_value(src: &str, node: &Node, encrypted: bool) -> Value {
    match node {
        Node::Map(m) => Value::Map(to_tree(src, m, encrypted)),
        Node::List(l) => Value::List(
            l.iter()
                .map(|node| node_value(src, node, encrypted))
                .collect(),
        ),
        Node::Leaf(l) => l.value.clone(),
    }
}

/// The slots of `src` (up to `end`).
pub(super) fn build_layout(
    src: &str,
    doc: &toml_edit::Document<&str>,
    end: usize,
    encrypted: bool,
) -> Result<Vec<MapSlot>, FormatError> {
    let builder = Builder { src, encrypted };
    let root_table = doc
        .as_item()
        .as_table()
        .ok_or_else(|| FormatError::Parse("toml: the document is not a table".into()))?;
    let mut root = builder.table(root_table, encrypted)?;
    let mut leaves = Vec::new();
    leaf_spans(&NodeRef::Map(&root), &mut leaves);
    leaves.sort_by_key(|l| l.start);
    // Map entries that are anchors: (offset, depth, entry number in DFS order).
    let mut anchors = Vec::new();
    collect_anchors(&root, 0, &mut 0, &mut anchors);
    anchors.sort_by_key(|&(offset, depth, _)| (offset, std::cmp::Reverse(depth)));
    let mut targets: std::collections::HashMap<usize, Vec<Range<usize>>> = Default::default();
    let mut trailing = Vec::new();
    for span in comment_spans(&src[..end]) {
        // A `#` inside a value is no comment (cannot happen for a text
        // toml_edit accepted, but never trust the lexer with a slice).
        let inside = leaves.partition_point(|l| l.start <= span.start);
        if inside > 0 && leaves[inside - 1].end > span.start {
            continue;
        }
        let next = anchors.partition_point(|&(offset, _, _)| offset <= span.start);
        match anchors.get(next) {
            Some(&(_, _, id)) => targets.entry(id).or_default().push(span),
            None => trailing.push(span),
        }
    }
    place_comments(&mut root, &mut 0, &mut targets);
    root.extend(trailing.into_iter().map(MapSlot::Comment));
    Ok(root)
}

pub(super) fn collect_anchors(
    slots: &[MapSlot],
    depth: usize,
    counter: &mut usize,
    out: &mut Vec<(usize, usize, usize)>,
) {
    for slot in slots {
        if let MapSlot::Entry { node, anchor, .. } = slot {
            let id = *counter;
            *counter += 1;
            if *anchor != usize::MAX {
                out.push((*anchor, depth, id));
            }
            collect_node_anchors(node, depth + 1, counter, out);
        }
    }
}

pub(super) fn collect_node_anchors(
    node: &Node,
    depth: usize,
    counter: &mut usize,
    out: &mut Vec<(usize, usize, usize)>,
) {
    match node {
        Node::Map(m) => collect_anchors(m, depth, counter, out),
        Node::List(l) => {
            for node in l {
                collect_node_anchors(node, depth + 1, counter, out);
            }
        }
        Node::Leaf(_) => {}
    }
}

/// Inserts each entry's comments before it (entries numbered as in
/// [`collect_anchors`]).
pub(super) fn place_comments(
    slots: &mut Vec<MapSlot>,
    counter: &mut usize,
    targets: &mut std::collections::HashMap<usize, Vec<Range<usize>>>,
) {
    let old = std::mem::take(slots);
    for mut slot in old {
        if let MapSlot::Entry { node, .. } = &mut slot {
            let id = *counter;
            *counter += 1;
            if let Some(comments) = targets.remove(&id) {
                slots.extend(comments.into_iter().map(MapSlot::Comment));
            }
            place_node_comments(node, counter, targets);
        }
        slots.push(slot);
    }
}

pub(super) fn place_node_comments(
    node: &mut Node,
    counter: &mut usize,
    targets: &mut std::collections::HashMap<usize, Vec<Range<usize>>>,
) {
    match node {
        Node::Map(m) => place_comments(m, counter, targets),
        Node::List(l) => {
            for node in l.iter_mut() {
                place_node_comments(node, counter, targets);
            }
        }
        Node::Leaf(_) => {}
    }
}

/// Parses `src` (up to `end`), remembering its layout; returns the tree.
pub(super) fn parse_body(
    layouts: &Layouts,
    src: &str,
    doc: &toml_edit::Document<&str>,
    end: usize,
    encrypted: bool,
) -> Result<Map, FormatError> {
    let root = build_layout(src, doc, end, encrypted)?;
    let tree = to_tree(src, &root, encrypted);
    layouts.remember(Layout::Toml {
        source: src[..end].to_string(),
        root,
        encrypted,
    });
    Ok(tree)
}

/// Plain tree of a TOML item, without layout (the metadata).
pub(super) fn plain_item(item: &toml_edit::Item) -> Value {
    match item {
        toml_edit::Item::Value(v) => plain_value(v),
        toml_edit::Item::Table(t) => Value::Map(plain_table(t)),
        toml_edit::Item::ArrayOfTables(a) => {
            Value::List(a.iter().map(|t| Value::Map(plain_table(t))).collect())
        }
        toml_edit::Item::None => Value::Null,
    }
}

pub(super) fn plain_table(t: &toml_edit::Table) -> Map {
    let mut m = Map::new();
    for (k, v) in t.iter() {
        m.push(k, plain_item(v));
    }
    m
}

pub(super) fn plain_value(v: &toml_edit::Value) -> Value {
    match v {
        toml_edit::Value::String(s) => Value::Str(s.value().clone()),
        toml_edit::Value::Integer(i) => Value::Int(*i.value()),
        toml_edit::Value::Float(f) => Value::Float(*f.value()),
        toml_edit::Value::Boolean(b) => Value::Bool(*b.value()),
        toml_edit::Value::Datetime(d) => {
            let text = d.value().to_string();
            Timestamp::parse_rfc3339(&text).map_or(Value::Str(text), Value::Time)
        }
        toml_edit::Value::Array(a) => Value::List(a.iter().map(plain_value).collect()),
        toml_edit::Value::InlineTable(t) => {
            let mut m = Map::new();
            for (k, v) in t.iter() {
                m.push(k, plain_value(v));
            }
            Value::Map(m)
        }
    }
}
