//! Comment placement of the [`Builder`]: own-line comments collected while
//! reading and placed where yaml.v3 (and so sops) puts them, see the rules
//! in [`super`].

use granit_parser::Span;

use super::{Builder, Frame, Last, OwnComment};
use crate::tree::{Comment, Item, Value};

impl Builder<'_> {
    pub(super) fn inline_comment(&mut self, text: String, span: &Span) {
        let c = Comment { text, inline: true };
        match self.last {
            Last::Key if self.value_props_before(span) => {
                // `key: &anchor # c` / `key: !tag # c`: the comment belongs
                // to the (block) value that follows.
                self.pending_heads.push(c);
            }
            Last::Key => {
                if let Some(pk) = self.stack.last_mut().and_then(|f| f.pending_key.as_mut()) {
                    pk.pre.push(c);
                    return;
                }
                self.pending_heads.push(c);
            }
            Last::Entry(pos) => {
                let n = self.stack.len();
                // `- key: value # c`: yaml.v3 gives the comment to the item
                // mapping, so it goes before the item in the sequence.
                let item_map_line = n >= 2
                    && self.stack[n - 1].is_map
                    && !self.stack[n - 1].flow
                    && !self.stack[n - 2].is_map
                    && !self.stack[n - 2].flow
                    && self.stack[n - 1].line == span.start.line();
                if item_map_line {
                    self.stack[n - 1].item_pre.push(c);
                    return;
                }
                if let Some(f) = self.stack.last_mut() {
                    f.insert_comment(pos, c);
                    return;
                }
                self.pending_heads.push(c);
            }
            Last::Flow(pos) => {
                if let Some(f) = self.stack.last_mut() {
                    let target = if f.is_map {
                        match f.items.get_mut(pos) {
                            Some(Item::Entry(_, v)) => Some(v),
                            _ => None,
                        }
                    } else {
                        f.list.get_mut(pos)
                    };
                    match target {
                        Some(Value::List(l)) => {
                            let at = l
                                .iter()
                                .take_while(|v| matches!(v, Value::Comment(_)))
                                .count();
                            l.insert(at, Value::Comment(c));
                        }
                        Some(Value::Map(m)) => {
                            let at =
                                m.0.iter()
                                    .take_while(|v| matches!(v, Item::Comment(_)))
                                    .count();
                            m.0.insert(at, Item::Comment(c));
                        }
                        _ => self.pending_heads.push(c),
                    }
                    return;
                }
                self.pending_heads.push(c);
            }
            Last::Drop => {}
            Last::None => self.pending_heads.push(c),
        }
    }

    /// Column of the `-` indicator before a block sequence item starting
    /// at this span (granit reports the item's content position).
    pub(super) fn dash_col(&self, span: &Span) -> usize {
        let col = span.start.col();
        let Some(off) = span.start.byte_offset() else {
            return col;
        };
        let before = self.src.get(..off).unwrap_or("");
        if self.src.get(off..).is_some_and(|r| r.starts_with('-')) {
            return col;
        }
        let trimmed = before.trim_end_matches(' ');
        let spaces = before.len() - trimmed.len();
        if trimmed.ends_with('-') && col > spaces {
            col - spaces - 1
        } else {
            col
        }
    }

    /// Position of the token that starts this node: for an item of a block
    /// sequence, its `-` indicator.
    pub(super) fn token_pos(&self, span: &Span) -> (usize, usize) {
        let in_block_seq = self.stack.last().is_some_and(|f| !f.is_map && !f.flow);
        let col = if in_block_seq {
            self.dash_col(span)
        } else {
            span.start.col()
        };
        (span.start.line(), col)
    }

    /// True when the token at this (collection end) position ends the
    /// document: end of input or a document marker.
    pub(super) fn end_of_document(&self, span: &Span) -> bool {
        let Some(off) = span.start.byte_offset() else {
            return false;
        };
        match self.src.get(off..) {
            None => true,
            Some(rest) => {
                rest.trim_start_matches(['\n', '\r', ' ', '\t']).is_empty()
                    || (span.start.col() == 0
                        && (rest.starts_with("---") || rest.starts_with("...")))
            }
        }
    }

    /// True when this (collection end) position is a document marker
    /// (`---` or `...` at column 0), not the end of the input.
    pub(super) fn at_document_marker(&self, span: &Span) -> bool {
        span.start.col() == 0
            && span
                .start
                .byte_offset()
                .and_then(|off| self.src.get(off..))
                .is_some_and(|rest| rest.starts_with("---") || rest.starts_with("..."))
    }

    /// Whether yaml.v3 gives this block of own-line comments to the
    /// document's mapping although it follows a sequence item: the block
    /// ends right above a document marker, the sequence is an indentless
    /// one (`k:` then `- item` at column 0) of the document's mapping, and
    /// its last item is a scalar or a flow collection. Whatever the block's
    /// column, sops then writes it at column 0 (at the end of the input it
    /// stays in the sequence).
    fn goes_to_document_before_marker(&self, last_line: usize) -> bool {
        let [root, seq] = self.stack.as_slice() else {
            return false;
        };
        self.marker_line == Some(last_line + 1)
            && root.is_map
            && !root.flow
            && !seq.is_map
            && !seq.flow
            && seq.indent == root.indent
            && matches!(self.last, Last::Entry(_))
    }

    /// Whether the first comment line of `blocks` is the foot of an
    /// indentless sequence in a CR LF file (see [`Builder::resolve_own`]):
    /// it is right below the sequence's last item, a scalar, at most at the
    /// sequence's column, and the next token is a key of the mapping
    /// holding the sequence.
    fn crlf_sequence_foot(&self, next: Option<(usize, usize)>, blocks: &[Vec<OwnComment>]) -> bool {
        let (Some((_, ncol)), Some(first)) = (next, blocks.first().and_then(|b| b.first())) else {
            return false;
        };
        let n = self.stack.len();
        if !self.crlf || n < 2 {
            return false;
        }
        let (map, seq) = (&self.stack[n - 2], &self.stack[n - 1]);
        map.is_map
            && !map.flow
            && !seq.is_map
            && !seq.flow
            && seq.indent == map.indent
            && ncol == map.indent
            && first.col <= seq.indent
            && self.last_line > 0
            && first.line == self.last_line + 1
            && matches!(self.last, Last::Entry(_))
    }

    /// Whether the first comment line follows the next item (see
    /// [`Builder::resolve_own`]): a CR LF file, the innermost collection a
    /// block mapping that is an item of a block sequence, the comment right
    /// below it at or left of the dash, the next token that sequence's next
    /// item.
    fn crlf_next_item_foot(
        &self,
        next: Option<(usize, usize)>,
        blocks: &[Vec<OwnComment>],
    ) -> bool {
        let n = self.stack.len();
        let (Some((_, ncol)), Some(first), true) =
            (next, blocks.first().and_then(|b| b.first()), n >= 2)
        else {
            return false;
        };
        let (seq, item) = (&self.stack[n - 2], &self.stack[n - 1]);
        // The next token is the sequence's next item, not a key after it.
        let next_item = self.next_at.is_some_and(|at| {
            let b = self.src.as_bytes();
            b.get(at) == Some(&b'-')
                && b.get(at + 1)
                    .is_none_or(|c| matches!(c, b' ' | b'\t' | b'\r' | b'\n'))
        });
        next_item
            && self.crlf
            && !seq.is_map
            && !seq.flow
            && item.is_map
            && !item.flow
            && ncol == seq.indent
            && first.col <= seq.indent
            && self.last_line > 0
            && first.line == self.last_line + 1
    }

    /// True when an anchor or tag stands between the last key and this
    /// inline comment.
    pub(super) fn value_props_before(&self, span: &Span) -> bool {
        let (Some(end), Some(start)) = (self.last_key_end, span.start.byte_offset()) else {
            return false;
        };
        self.src
            .get(end..start)
            .is_some_and(|between| between.contains('&') || between.contains('!'))
    }

    /// Places the buffered own-line comments, now that the next token is known.
    pub(super) fn resolve_own(&mut self, next: Option<(usize, usize)>, _node: bool) {
        if self.own.is_empty() {
            return;
        }
        let own = std::mem::take(&mut self.own);
        // yaml.v3's `parser.indent` while it reads the comments.
        let block_indent = self
            .stack
            .iter()
            .rev()
            .find(|f| !f.flow)
            .map_or(0, |f| f.indent);
        // Split into blocks: consecutive lines, same column.
        let mut blocks: Vec<Vec<OwnComment>> = Vec::new();
        for c in own {
            // A new block starts after a blank line, when a line is
            // dedented relative to the block's first line, or (yaml.v3's
            // scan_comments) when it is indented further but still left of
            // the block indentation.
            let new_block = match (
                blocks.last().and_then(|b| b.first()),
                blocks.last().and_then(|b| b.last()),
            ) {
                (Some(f), Some(p)) => {
                    c.line != p.line + 1 || c.col < f.col || (c.col > f.col && c.col < block_indent)
                }
                _ => true,
            };
            if new_block {
                blocks.push(vec![c]);
            } else if let Some(b) = blocks.last_mut() {
                b.push(c);
            }
        }
        // In a CR LF file, the comment line right below a mapping item of
        // a block sequence, at the dash's column, follows the next item for
        // yaml.v3 (its foot); the lines after it head that item.
        // (The item holds it until it is in the sequence.)
        if self.crlf_next_item_foot(next, &blocks) {
            let rest = blocks[0].split_off(1);
            let first = std::mem::replace(&mut blocks[0], rest);
            if blocks[0].is_empty() {
                blocks.remove(0);
            }
            if let Some(top) = self.stack.last_mut() {
                top.after_next
                    .extend(first.into_iter().map(|c| Comment::new(c.text)));
            }
            if blocks.is_empty() {
                return;
            }
        }
        // In a CR LF file, the comment line right below the last (scalar)
        // item of an indentless sequence, before the next key, is the
        // sequence's foot for yaml.v3; the lines after it head the key.
        let crlf_foot = self.crlf_sequence_foot(next, &blocks);
        if crlf_foot && blocks[0].len() > 1 {
            let rest = blocks[0].split_off(1);
            blocks.insert(1, rest);
        }
        let nblocks = blocks.len();
        let after_key = matches!(self.last, Last::Key) && next.is_some();
        // The input ends in this comment, without a line break: yaml.v3
        // then gives the block right below the content to the innermost
        // collection, when it is a block mapping, whatever its column.
        let no_final_break = next.is_none()
            && self.marker_line.is_none()
            && !self.src.ends_with(['\n', '\r'])
            && self.stack.last().is_some_and(|f| f.is_map && !f.flow);
        let starts: Vec<usize> = blocks.iter().map(|b| b[0].line).collect();
        let mut prev_end = self.last_line;
        for (k, block) in blocks.into_iter().enumerate() {
            let col = block[0].col;
            let first_line = block[0].line;
            let last_line = block[block.len() - 1].line;
            // Directly below the previous content or the previous block.
            let adjacent = prev_end > 0 && first_line == prev_end + 1;
            prev_end = last_line;
            let first = k == 0 && adjacent;
            let direct_next = k + 1 == nblocks && next.is_some_and(|(l, _)| last_line + 1 == l);
            // Followed directly by a dedented block.
            let dedent_follows = starts.get(k + 1) == Some(&(last_line + 1));
            let comments: Vec<Comment> = block.into_iter().map(|c| Comment::new(c.text)).collect();
            let deepest = self.stack.last().map(|f| f.indent);
            let blank_after = !dedent_follows && next.is_none_or(|(l, _)| l != last_line + 1);
            let n = self.stack.len();
            // The next token is another item of the sequence holding the
            // innermost collection.
            let continues = |f: &Frame| !f.is_map && next.is_some_and(|(_, ncol)| f.indent == ncol);
            let seq_continues = (n >= 1 && continues(&self.stack[n - 1]))
                || (n >= 2 && continues(&self.stack[n - 2]));
            let to_deepest = match (next, deepest) {
                (_, None) => false,
                (Some(_), Some(_)) if first && dedent_follows => true,
                (Some((_, ncol)), Some(ind)) => {
                    first
                        && (col != ncol || ncol == ind)
                        && !(blank_after && col < ind && !seq_continues)
                }
                // At the end of the document only the last block is the
                // document's foot.
                (None, Some(ind)) => {
                    (first && (col >= ind || no_final_break || dedent_follows))
                        || (!adjacent && k + 1 < nblocks)
                }
            };
            if next.is_none() && k + 1 == nblocks && self.goes_to_document_before_marker(last_line)
            {
                self.place(0, comments.into_iter());
            } else if k == 0 && crlf_foot {
                let top = self.stack.len() - 1;
                self.place(top, comments.into_iter());
            } else if after_key || (direct_next && next.is_some_and(|(_, ncol)| col <= ncol)) {
                // The head of the next node.
                self.pending_heads.extend(comments);
            } else if self.stack.is_empty() {
                self.pending_heads.extend(comments);
            } else if to_deepest {
                // A foot of the last node: it stays in the innermost
                // collection (yaml.v3 moves a dedented one to the end of a
                // sequence).
                let d = self.stack.len() - 1;
                let f = &mut self.stack[d];
                if !f.is_map && col < f.indent {
                    f.end_comments.extend(comments);
                } else {
                    self.place(d, comments.into_iter());
                }
            } else if !adjacent && next.is_none_or(|(_, ncol)| col <= ncol) {
                // Separated by a blank line: the head of the next node, or
                // the end of the document.
                match next {
                    Some(_) => self.pending_heads.extend(comments),
                    None => self.place(0, comments.into_iter()),
                }
            } else if !adjacent && k == 0 {
                // Separated by blank lines, right of the next token: the
                // innermost collection not right of it.
                let mut target = 0;
                for (d, f) in self.stack.iter().enumerate() {
                    if !f.flow && f.indent <= col {
                        target = d;
                    }
                }
                self.place(target, comments.into_iter());
            } else {
                // By indentation: the innermost mapping not right of it.
                let mut target = 0;
                for (d, f) in self.stack.iter().enumerate() {
                    if f.is_map && !f.flow && f.indent <= col {
                        target = d;
                    }
                }
                self.place(target, comments.into_iter());
            }
        }
    }

    pub(super) fn place(&mut self, depth: usize, comments: impl Iterator<Item = Comment>) {
        let top = self.stack.len() - 1;
        let f = &mut self.stack[depth];
        if depth == top {
            for c in comments {
                f.push_comment(c);
            }
        } else {
            f.deferred.extend(comments);
        }
    }

    pub(super) fn content_end_line(&self, span: &Span) -> usize {
        // The last line holding content of this node.
        if span.start.line() == span.end.line() {
            return span.start.line();
        }
        let (Some(s), Some(e)) = (span.start.byte_offset(), span.end.byte_offset()) else {
            return span.end.line();
        };
        let text = self.src.get(s..e).unwrap_or("");
        let trimmed = text.trim_end_matches([' ', '\t', '\n', '\r']);
        span.start.line() + trimmed.matches('\n').count()
    }
}
