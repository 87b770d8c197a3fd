//! Word-level tokenizer derived from the spec: specials, symbols, then instruction words.

use std::collections::HashMap;

pub const PAD: u32 = 0;
pub const BOS: u32 = 1;
pub const SEP: u32 = 2;
pub const ANS: u32 = 3;
pub const EOS: u32 = 4;
pub const SPECIALS: [&str; 5] = ["<pad>", "<bos>", "<sep>", "<ans>", "<eos>"];

#[derive(Debug, Clone, PartialEq)]
pub struct Tokenizer {
    tokens: Vec<String>,
    index: HashMap<String, u32>,
    num_symbols: usize,
}

/// An encoded example: `<bos> instruction <sep> input <ans> output <eos>`; input and output are
/// one symbol for lookup tables, strings for rewrites.
#[derive(Debug, Clone, PartialEq)]
pub struct Encoded {
    pub ids: Vec<u32>,
    /// Position of `<ans>`, whose output predicts the answer.
    pub answer_pos: usize,
    /// Position of the last instruction word.
    pub last_instruction_pos: usize,
    /// Tokens after `<ans>` that are the answer: the logits at `answer_pos + i` predict
    /// `ids[answer_pos + 1 + i]` for `i < answer_len` (0 when encoded without the answer).
    pub answer_len: usize,
}

impl Tokenizer {
    /// Symbols first (so symbol `i` is id `SPECIALS.len() + i`), then words in the given order.
    pub fn new(symbols: &[String], words: &[String]) -> Self {
        let tokens: Vec<String> = SPECIALS
            .iter()
            .map(|s| s.to_string())
            .chain(symbols.iter().cloned())
            .chain(words.iter().cloned())
            .collect();
        let index = tokens.iter().enumerate().map(|(i, t)| (t.clone(), i as u32)).collect();
        Tokenizer { tokens, index, num_symbols: symbols.len() }
    }

    pub fn len(&self) -> usize {
        self.tokens.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }

    pub fn id(&self, token: &str) -> Option<u32> {
        self.index.get(token).copied()
    }

    pub fn token(&self, id: u32) -> Option<&str> {
        self.tokens.get(id as usize).map(String::as_str)
    }

    pub fn tokens(&self) -> &[String] {
        &self.tokens
    }

    pub fn symbol_id(&self, symbol: usize) -> u32 {
        (SPECIALS.len() + symbol) as u32
    }

    /// The symbol index of a token id, if it is a symbol.
    pub fn symbol_of(&self, id: u32) -> Option<usize> {
        let i = (id as usize).checked_sub(SPECIALS.len())?;
        (i < self.num_symbols).then_some(i)
    }

    /// Instruction words (everything that is neither special nor symbol).
    pub fn words(&self) -> &[String] {
        &self.tokens[SPECIALS.len() + self.num_symbols..]
    }

    /// Encodes an example; `None` for a word outside the vocabulary (callers validate first).
    /// With `terminated`, the answer's `<eos>` is part of what is predicted.
    pub fn encode<S: AsRef<str>>(
        &self,
        instruction: &[S],
        input: &[usize],
        output: Option<&[usize]>,
        terminated: bool,
    ) -> Option<Encoded> {
        let mut ids = Vec::with_capacity(instruction.len() + input.len() + output.map_or(0, <[usize]>::len) + 4);
        ids.push(BOS);
        for w in instruction {
            ids.push(self.id(w.as_ref())?);
        }
        let last_instruction_pos = ids.len() - 1;
        ids.push(SEP);
        ids.extend(input.iter().map(|&s| self.symbol_id(s)));
        let answer_pos = ids.len();
        ids.push(ANS);
        let mut answer_len = 0;
        if let Some(out) = output {
            ids.extend(out.iter().map(|&s| self.symbol_id(s)));
            ids.push(EOS);
            answer_len = out.len() + usize::from(terminated);
        }
        Some(Encoded { ids, answer_pos, last_instruction_pos, answer_len })
    }

    /// Length of an encoded example with an instruction of `words` words.
    pub fn sequence_len(words: usize) -> usize {
        words + 6
    }
}
