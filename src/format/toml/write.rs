//! Writing: filling a layout, syncing it with `toml_edit`, or a fresh TOML text.

use super::*;

/// Fills the layout's slots from `tree`; `None` when the shapes differ.
pub(super) fn fill(
    src: &str,
    slots: &[MapSlot],
    tree: &Map,
    path: &mut Vec<String>,
    out: &mut Vec<(Range<usize>, String)>,
) -> Option<Result<(), FormatError>> {
    if slots.len() != tree.0.len() {
        return None;
    }
    for (slot, item) in slots.iter().zip(&tree.0) {
        match (slot, item) {
            (MapSlot::Comment(r), Item::Comment(c)) => {
                out.push((r.clone(), comment_text(&c.text)?))
            }
            (MapSlot::Entry { key, node, .. }, Item::Entry(k, v)) if key == k => {
                path.push(k.clone());
                let r = fill_node(src, node, v, path, out);
                path.pop();
                match r {
                    Some(Ok(())) => {}
                    other => return other,
                }
            }
            _ => return None,
        }
    }
    Some(Ok(()))
}

/// `#text`, or `None` when the text cannot stay one comment line.
pub(super) fn comment_text(text: &str) -> Option<String> {
    (!text.contains(['\n', '\r'])).then(|| format!("#{text}"))
}

pub(super) fn fill_node(
    src: &str,
    node: &Node,
    value: &Value,
    path: &mut Vec<String>,
    out: &mut Vec<(Range<usize>, String)>,
) -> Option<Result<(), FormatError>> {
    match (node, value) {
        (Node::Map(slots), Value::Map(m)) => fill(src, slots, m, path, out),
        (Node::List(slots), Value::List(items)) => {
            if slots.len() != items.len() {
                return None;
            }
            for (slot, v) in slots.iter().zip(items) {
                if matches!(v, Value::Comment(_)) {
                    return None;
                }
                match fill_node(src, slot, v, path, out) {
                    Some(Ok(())) => {}
                    other => return other,
                }
            }
            Some(Ok(()))
        }
        (Node::Leaf(leaf), v)
            if !matches!(v, Value::Map(_) | Value::List(_) | Value::Comment(_)) =>
        {
            match leaf_text(src, leaf, v, path) {
                Ok(text) => out.push((leaf.span.clone(), text)),
                Err(e) => return Some(Err(e)),
            }
            Some(Ok(()))
        }
        _ => None,
    }
}

pub(super) fn splice(src: &str, mut repl: Vec<(Range<usize>, String)>) -> String {
    repl.sort_by_key(|(r, _)| r.start);
    let mut out = String::with_capacity(src.len() * 2);
    let mut at = 0;
    for (r, text) in repl {
        if r.start < at || r.end > src.len() {
            // Overlapping spans cannot happen for a parsed layout; never
            // slice out of bounds if they do.
            continue;
        }
        out.push_str(&src[at..r.start]);
        out.push_str(&text);
        at = r.end;
    }
    out.push_str(&src[at..]);
    out
}

/// The layout a tree is written with: the newest one, or for encrypted
/// output the newest plaintext one (the file just read or edited) if any.
pub(super) fn pick_layout(layouts: &Layouts, prefer_plain: bool) -> Option<Rc<Layout>> {
    let all = layouts.all();
    if prefer_plain {
        if let Some(l) = all.iter().find(|l| {
            matches!(
                &***l,
                Layout::Toml {
                    encrypted: false,
                    ..
                }
            )
        }) {
            return Some(l.clone());
        }
    }
    all.into_iter().next()
}

/// Writes `tree` with the remembered layout when it has the same shape,
/// else edits the layout's text to the tree's keys, else canonically.
pub(super) fn emit_body(
    layouts: &Layouts,
    tree: &Map,
    prefer_plain: bool,
) -> Result<String, FormatError> {
    let layout = pick_layout(layouts, prefer_plain);
    if let Some(Layout::Toml { source, root, .. }) = layout.as_deref() {
        let mut out = Vec::new();
        match fill(source, root, tree, &mut Vec::new(), &mut out) {
            Some(Ok(())) => return Ok(splice(source, out)),
            Some(Err(e)) => return Err(e),
            None => {}
        }
    }
    // Keys were added or removed: edit the layout's text with toml_edit and
    // use it when the result has the tree's shape.
    if let Some(l) = layout.as_deref() {
        if let Some(text) = candidates_synced(l, tree)? {
            return Ok(text);
        }
    }
    let mut out = String::new();
    let ctx = match layout.as_deref() {
        Some(Layout::Toml { source, root, .. }) => Fresh::new(source, root),
        _ => Fresh::default(),
    };
    write_table(&ctx, tree, &mut Vec::new(), &mut Vec::new(), &mut out)?;
    Ok(out)
}

pub(super) fn candidates_synced(
    layout: &Layout,
    tree: &Map,
) -> Result<Option<String>, FormatError> {
    let Layout::Toml {
        source,
        root,
        encrypted,
    } = layout
    else {
        return Ok(None);
    };
    let Ok(mut doc) = source.parse::<toml_edit::DocumentMut>() else {
        return Ok(None);
    };
    let old = to_tree(source, root, *encrypted);
    sync_table(doc.as_table_mut(), tree, Some(&old), true);
    let text = doc.to_string();
    let Ok(parsed) = toml_edit::Document::parse(text.as_str()) else {
        return Ok(None);
    };
    let Ok(root) = build_layout(&text, &parsed, text.len(), *encrypted) else {
        return Ok(None);
    };
    let mut out = Vec::new();
    match fill(&text, &root, tree, &mut Vec::new(), &mut out) {
        Some(Ok(())) => Ok(Some(splice(&text, out))),
        Some(Err(e)) => Err(e),
        None => Ok(None),
    }
}

/// Makes table `t` have the keys of `tree`; `old` is the tree `t` was
/// read as (to tell which list elements were removed).
pub(super) fn sync_table(
    t: &mut dyn toml_edit::TableLike,
    tree: &Map,
    old: Option<&Map>,
    standard: bool,
) {
    let stale: Vec<String> = t
        .iter()
        .map(|(k, _)| k.to_string())
        .filter(|k| tree.get(k).is_none())
        .collect();
    for k in stale {
        t.remove(&k);
    }
    for (k, v) in tree.entries() {
        match t.get_mut(k) {
            Some(item) => sync_item(item, v, old.and_then(|o| o.get(k)), standard),
            None => {
                t.insert(k, placeholder_item(v, standard));
            }
        }
    }
}

pub(super) fn sync_item(
    item: &mut toml_edit::Item,
    v: &Value,
    old: Option<&Value>,
    standard: bool,
) {
    use toml_edit::Item as I;
    use toml_edit::Value as V;
    let old_map = match old {
        Some(Value::Map(m)) => Some(m),
        _ => None,
    };
    match (item, v) {
        (I::Table(t), Value::Map(m)) => sync_table(t, m, old_map, true),
        (I::Value(V::InlineTable(t)), Value::Map(m)) => sync_table(t, m, old_map, false),
        (I::ArrayOfTables(a), Value::List(items)) => {
            let values: Vec<&Value> = items.iter().filter(|i| !is_comment(i)).collect();
            let (removed, olds) = removed_elements(old, &values, a.len());
            for i in removed.into_iter().rev() {
                a.remove(i);
            }
            for (i, v) in values.iter().enumerate() {
                if i >= a.len() {
                    a.push(toml_edit::Table::new());
                }
                let old = olds.get(i).copied().flatten();
                if let (Some(t), Value::Map(m)) = (a.get_mut(i), v) {
                    let old = match old {
                        Some(Value::Map(o)) => Some(o),
                        _ => None,
                    };
                    sync_table(t, m, old, true);
                }
            }
        }
        (I::Value(V::Array(a)), Value::List(items)) => {
            let values: Vec<&Value> = items.iter().filter(|i| !is_comment(i)).collect();
            let (removed, olds) = removed_elements(old, &values, a.len());
            // The new first element takes the old first one's leading space.
            let first_prefix = a.get(0).and_then(|v| v.decor().prefix().cloned());
            let first_removed = removed.first() == Some(&0);
            for i in removed.into_iter().rev() {
                a.remove(i);
            }
            if let (true, Some(prefix), Some(first)) = (first_removed, first_prefix, a.get_mut(0)) {
                first.decor_mut().set_prefix(prefix);
            }
            for (i, v) in values.iter().enumerate() {
                if i >= a.len() {
                    a.push(placeholder_value(v));
                } else if let Some(slot) = a.get_mut(i) {
                    sync_value(slot, v, olds.get(i).copied().flatten());
                }
            }
        }
        (I::Value(x), v) if !matches!(x, V::Array(_) | V::InlineTable(_)) && !is_container(v) => {}
        (item, v) => *item = placeholder_item(v, standard),
    }
}

/// Which of the `len` elements of a list to remove so that the rest line up
/// with `new` (elements equal to the old ones are kept, in order), and the
/// old value of each kept element. Without an old list that lines up, the
/// last elements are removed.
pub(super) fn removed_elements<'o>(
    old: Option<&'o Value>,
    new: &[&Value],
    len: usize,
) -> (Vec<usize>, Vec<Option<&'o Value>>) {
    if let Some(Value::List(items)) = old {
        let old: Vec<&Value> = items.iter().filter(|i| !is_comment(i)).collect();
        if old.len() == len && new.len() < len {
            let mut removed = Vec::new();
            let mut kept = Vec::new();
            let mut j = 0;
            for (i, o) in old.iter().enumerate() {
                if j < new.len() && *o == new[j] {
                    kept.push(Some(*o));
                    j += 1;
                } else {
                    removed.push(i);
                }
            }
            if j == new.len() {
                return (removed, kept);
            }
        }
        if old.len() == len {
            return (
                (new.len().min(len)..len).collect(),
                old.iter().map(|o| Some(*o)).collect(),
            );
        }
    }
    ((new.len().min(len)..len).collect(), Vec::new())
}

pub(super) fn sync_value(slot: &mut toml_edit::Value, v: &Value, old: Option<&Value>) {
    let mut item = toml_edit::Item::Value(slot.clone());
    sync_item(&mut item, v, old, false);
    if let toml_edit::Item::Value(new) = item {
        *slot = new;
    }
}

pub(super) fn is_container(v: &Value) -> bool {
    matches!(v, Value::Map(_) | Value::List(_))
}

pub(super) fn is_comment(v: &Value) -> bool {
    match v {
        Value::Comment(_) => true,
        Value::Str(s) => is_enc_envelope(s) && s.ends_with(",type:comment]"),
        _ => false,
    }
}

pub(super) fn placeholder_item(v: &Value, standard: bool) -> toml_edit::Item {
    match v {
        Value::Map(m) if standard => {
            let mut t = toml_edit::Table::new();
            sync_table(&mut t, m, None, true);
            toml_edit::Item::Table(t)
        }
        Value::List(items) if standard && is_table_like(v) => {
            let mut a = toml_edit::ArrayOfTables::new();
            for m in items.iter().filter_map(|i| match i {
                Value::Map(m) => Some(m),
                _ => None,
            }) {
                let mut t = toml_edit::Table::new();
                sync_table(&mut t, m, None, true);
                a.push(t);
            }
            toml_edit::Item::ArrayOfTables(a)
        }
        v => toml_edit::Item::Value(placeholder_value(v)),
    }
}

pub(super) fn placeholder_value(v: &Value) -> toml_edit::Value {
    match v {
        Value::Map(m) => {
            let mut t = toml_edit::InlineTable::new();
            sync_table(&mut t, m, None, false);
            toml_edit::Value::InlineTable(t)
        }
        Value::List(items) => {
            let mut a = toml_edit::Array::new();
            for i in items.iter().filter(|i| !is_comment(i)) {
                a.push(placeholder_value(i));
            }
            toml_edit::Value::Array(a)
        }
        _ => toml_edit::Value::from(""),
    }
}

/// Gives the values kept as TOML source text (type `toml`: hex integers,
/// `1e6`, unusual escapes…) their typed value, for writing the tree in
/// another format. Uses the newest layout of `layouts` (the one the tree
/// was read with); a tree of another shape is left as it is.
pub(super) fn type_raw_values(layouts: &Layouts, documents: &mut [Map]) {
    let [doc] = documents else { return };
    if let Some(Layout::Toml { source, root, .. }) = pick_layout(layouts, false).as_deref() {
        if fill(source, root, doc, &mut Vec::new(), &mut Vec::new()).is_some() {
            retype_map(root, doc);
        }
    }
}

pub(super) fn retype_map(slots: &[MapSlot], map: &mut Map) {
    for (slot, item) in slots.iter().zip(map.0.iter_mut()) {
        if let (MapSlot::Entry { node, .. }, Item::Entry(_, v)) = (slot, item) {
            retype_node(node, v);
        }
    }
}

pub(super) fn retype_node(node: &Node, value: &mut Value) {
    match (node, value) {
        (Node::Map(slots), Value::Map(m)) => retype_map(slots, m),
        (Node::List(slots), Value::List(items)) => {
            for (node, v) in slots.iter().zip(items.iter_mut()) {
                retype_node(node, v);
            }
        }
        (Node::Leaf(leaf), v) if leaf.kind == Kind::Raw => {
            if let Value::Str(s) = v {
                if is_scalar_source(s, None) {
                    if let Ok(parsed) = s.parse::<toml_edit::Value>() {
                        *v = plain_value(&parsed);
                    }
                }
            }
        }
        _ => {}
    }
}

pub(super) fn key_text(k: &str) -> String {
    if !k.is_empty()
        && k.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        k.to_string()
    } else {
        basic(k)
    }
}

pub(super) fn header(path: &[String]) -> String {
    path.iter()
        .map(|k| key_text(k))
        .collect::<Vec<_>>()
        .join(".")
}

pub(super) fn is_table_like(v: &Value) -> bool {
    match v {
        Value::Map(_) => true,
        Value::List(items) => {
            !items.is_empty()
                && items
                    .iter()
                    .all(|i| matches!(i, Value::Map(_)) || is_comment(i))
                && items.iter().any(|i| matches!(i, Value::Map(_)))
        }
        _ => false,
    }
}

/// Leaves of a remembered layout by path (keys, and `#i` for list
/// elements), so that canonical output keeps their kinds.
#[derive(Default)]
pub(super) struct Fresh<'a> {
    pub(super) src: &'a str,
    pub(super) leaves: std::collections::HashMap<Vec<String>, &'a Leaf>,
}

impl<'a> Fresh<'a> {
    pub(super) fn new(src: &'a str, root: &'a [MapSlot]) -> Self {
        let mut fresh = Fresh {
            src,
            leaves: Default::default(),
        };
        fresh.index_map(root, &mut Vec::new());
        fresh
    }

    pub(super) fn index_map(&mut self, slots: &'a [MapSlot], path: &mut Vec<String>) {
        for slot in slots {
            if let MapSlot::Entry { key, node, .. } = slot {
                path.push(key.clone());
                self.index_node(node, path);
                path.pop();
            }
        }
    }

    pub(super) fn index_node(&mut self, node: &'a Node, path: &mut Vec<String>) {
        match node {
            Node::Map(m) => self.index_map(m, path),
            Node::List(l) => {
                for (i, node) in l.iter().enumerate() {
                    path.push(format!("#{i}"));
                    self.index_node(node, path);
                    path.pop();
                }
            }
            Node::Leaf(leaf) => {
                self.leaves.insert(path.clone(), leaf);
            }
        }
    }

    pub(super) fn leaf(&self, v: &Value, path: &[String]) -> Result<String, FormatError> {
        match self.leaves.get(path) {
            Some(leaf) => leaf_text(self.src, leaf, v, path),
            None => match v {
                Value::Str(s) if s.contains('\n') && !is_enc_envelope(s) => {
                    Ok(render(Kind::StrMultiline, v, path)?)
                }
                v => render(Kind::Str, v, path),
            },
        }
    }
}

/// The text of leaf value `v` written where `leaf` was.
pub(super) fn leaf_text(
    src: &str,
    leaf: &Leaf,
    v: &Value,
    path: &[String],
) -> Result<String, FormatError> {
    if *v == leaf.value {
        return Ok(src[leaf.span.clone()].to_string());
    }
    match v {
        Value::Str(s) if is_enc_envelope(s) => {
            let mut s = s.clone();
            if let Some(name) = leaf.kind.special_name() {
                if let Some(rest) = s.strip_suffix(",type:str]") {
                    s = format!("{rest},type:{name}]");
                }
            }
            Ok(basic(&s))
        }
        v => render(leaf.kind, v, path),
    }
}

/// Canonical TOML for a map: inline entries first in order; the longest
/// suffix of table-like entries as `[header]` / `[[header]]` sections, so
/// that reading the text back gives the same order.
pub(super) fn write_table(
    ctx: &Fresh<'_>,
    map: &Map,
    path: &mut Vec<String>,
    full: &mut Vec<String>,
    out: &mut String,
) -> Result<(), FormatError> {
    let items = &map.0;
    let mut split = items.len();
    while split > 0 {
        match &items[split - 1] {
            Item::Entry(_, v) if is_table_like(v) => split -= 1,
            Item::Comment(_) => split -= 1,
            _ => break,
        }
    }
    // Comments right before the first table stay with the inline part.
    while split < items.len() && matches!(items[split], Item::Comment(_)) {
        split += 1;
    }
    let line = |out: &mut String, text: &str| {
        if let Some(t) = comment_text(text) {
            out.push_str(&t);
            out.push('\n');
        }
    };
    for item in &items[..split] {
        match item {
            Item::Comment(c) => line(out, &c.text),
            Item::Entry(k, v) => {
                full.push(k.clone());
                let text = inline_value(ctx, v, full)?;
                full.pop();
                out.push_str(&key_text(k));
                out.push_str(" = ");
                out.push_str(&text);
                out.push('\n');
            }
        }
    }
    let mut pending = Vec::new();
    for item in &items[split..] {
        match item {
            Item::Comment(c) => pending.push(c.text.clone()),
            Item::Entry(k, v) => {
                path.push(k.clone());
                full.push(k.clone());
                let mut lead = String::new();
                for c in pending.drain(..) {
                    line(&mut lead, &c);
                }
                match v {
                    Value::Map(m) => {
                        sep(out);
                        out.push_str(&lead);
                        out.push_str(&format!("[{}]\n", header(path)));
                        write_table(ctx, m, path, full, out)?;
                    }
                    Value::List(elems) => {
                        out.push_str(&lead);
                        let mut index = 0;
                        for e in elems {
                            match e {
                                Value::Map(m) => {
                                    sep(out);
                                    out.push_str(&format!("[[{}]]\n", header(path)));
                                    full.push(format!("#{index}"));
                                    write_table(ctx, m, path, full, out)?;
                                    full.pop();
                                    index += 1;
                                }
                                Value::Comment(c) => line(out, &c.text),
                                Value::Str(c) if is_comment(e) => line(out, c),
                                _ => {}
                            }
                        }
                    }
                    _ => {}
                }
                full.pop();
                path.pop();
            }
        }
    }
    for c in pending {
        line(out, &c);
    }
    Ok(())
}

pub(super) fn sep(out: &mut String) {
    if !out.is_empty() && !out.ends_with("\n\n") {
        out.push('\n');
    }
}

pub(super) fn inline_value(
    ctx: &Fresh<'_>,
    v: &Value,
    full: &mut Vec<String>,
) -> Result<String, FormatError> {
    Ok(match v {
        Value::Map(m) => {
            let mut parts = Vec::new();
            for (k, v) in m.entries() {
                full.push(k.to_string());
                parts.push(format!("{} = {}", key_text(k), inline_value(ctx, v, full)?));
                full.pop();
            }
            if parts.is_empty() {
                "{}".to_string()
            } else {
                format!("{{ {} }}", parts.join(", "))
            }
        }
        Value::List(items) => {
            let mut parts = Vec::new();
            for v in items.iter().filter(|v| !is_comment(v)) {
                full.push(format!("#{}", parts.len()));
                parts.push(inline_value(ctx, v, full)?);
                full.pop();
            }
            format!("[{}]", parts.join(", "))
        }
        leaf => ctx.leaf(leaf, full)?,
    })
}

/// The metadata as a `[sops]` table: plain values first, then key lists.
pub(super) fn metadata_text(metadata: &Map) -> Result<String, FormatError> {
    let mut ordered = Map::new();
    for (k, v) in metadata.entries() {
        if !is_table_like(v) {
            ordered.push(k, v.clone());
        }
    }
    for (k, v) in metadata.entries() {
        if is_table_like(v) {
            ordered.push(k, v.clone());
        }
    }
    let mut root = Map::new();
    root.push("sops", Value::Map(ordered));
    let mut out = String::new();
    write_table(
        &Fresh::default(),
        &root,
        &mut Vec::new(),
        &mut Vec::new(),
        &mut out,
    )?;
    Ok(out)
}

/// True when the text looks like sops' JSON envelope of a binary file.
pub(super) fn is_json_envelope(text: &str) -> bool {
    text.trim_start().starts_with('{')
}
