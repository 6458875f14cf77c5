//! A one-node ONNX model of ONNX Runtime's `com.microsoft` `MultiHeadAttention`, written
//! here as protobuf (`ModelProto` → `GraphProto` → `NodeProto`, `ValueInfoProto`), so that
//! the page builds the model of each shape itself: no model files in the repository, no
//! Python at build time.
//!
//! The node takes `query`, `key` and `value` as `[1, n, H·d]` (ORT's BSD layout) and
//! returns `output` (`[1, n, H·d]`) and `present_key`/`present_value` (`[1, H, n, d]`):
//! ORT's WebGPU flash-attention program runs only when the present outputs are asked for.
//! [`program_label`] says which of ORT's programs ran, as its profile names them. Builds on
//! every target (no dependencies), so that its tests run on the host.

/// Protobuf wire types.
const VARINT: u64 = 0;
const LEN: u64 = 2;

/// One protobuf message being written: fields appended in order.
#[derive(Default)]
struct Message(Vec<u8>);

fn varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8 & 0x7f) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

impl Message {
    fn key(&mut self, field: u64, wire: u64) {
        varint(&mut self.0, (field << 3) | wire);
    }

    fn int(mut self, field: u64, value: u64) -> Self {
        self.key(field, VARINT);
        varint(&mut self.0, value);
        self
    }

    fn bytes(mut self, field: u64, value: &[u8]) -> Self {
        self.key(field, LEN);
        varint(&mut self.0, value.len() as u64);
        self.0.extend_from_slice(value);
        self
    }

    fn string(self, field: u64, value: &str) -> Self {
        self.bytes(field, value.as_bytes())
    }

    fn message(self, field: u64, value: Message) -> Self {
        self.bytes(field, &value.0)
    }
}

/// `TensorProto.DataType.FLOAT`.
const FLOAT: u64 = 1;
/// `AttributeProto.AttributeType.INT`.
const ATTRIBUTE_INT: u64 = 2;
/// The IR version written (8: opset 18 and earlier; ORT reads 3 to 11).
const IR_VERSION: u64 = 8;
/// The default domain's opset imported beside `com.microsoft` version 1.
const ONNX_OPSET: u64 = 17;

/// `ValueInfoProto` of an f32 tensor named `name` of static shape `dims`.
fn tensor_value(name: &str, dims: &[u64]) -> Message {
    let shape = dims.iter().fold(Message::default(), |shape, &d| {
        shape.message(1, Message::default().int(1, d))
    });
    let tensor = Message::default().int(1, FLOAT).message(2, shape);
    Message::default()
        .string(1, name)
        .message(2, Message::default().message(1, tensor))
}

/// The model of one shape: n query and key rows, head dim d, `heads` heads, batch 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MhaShape {
    /// Sequence length n (queries and keys alike).
    pub seq_len: u64,
    /// Head dim d.
    pub head_dim: u64,
    /// Heads H.
    pub heads: u64,
}

/// The serialized `ModelProto` of one `MultiHeadAttention` node at `shape` (scale left at
/// its default, 1/√d; not causal: ORT's WebGPU kernel refuses `unidirectional`).
pub fn multi_head_attention(shape: MhaShape) -> Vec<u8> {
    let MhaShape {
        seq_len: n,
        head_dim: d,
        heads: h,
    } = shape;
    let num_heads = Message::default()
        .string(1, "num_heads")
        .int(3, h)
        .int(20, ATTRIBUTE_INT);
    let outputs = ["output", "present_key", "present_value"];
    let node = ["query", "key", "value"]
        .iter()
        .fold(Message::default(), |node, input| node.string(1, input));
    let node = outputs
        .iter()
        .fold(node, |node, output| node.string(2, output))
        .string(3, "attention")
        .string(4, "MultiHeadAttention")
        .message(5, num_heads)
        .string(7, "com.microsoft");
    let mut graph = Message::default()
        .message(1, node)
        .string(2, "attnbench-mha");
    for input in ["query", "key", "value"] {
        graph = graph.message(11, tensor_value(input, &[1, n, h * d]));
    }
    graph = graph
        .message(12, tensor_value("output", &[1, n, h * d]))
        .message(12, tensor_value("present_key", &[1, h, n, d]))
        .message(12, tensor_value("present_value", &[1, h, n, d]));
    let opset = |domain: &str, version: u64| Message::default().string(1, domain).int(2, version);
    Message::default()
        .int(1, IR_VERSION)
        .string(2, "attnbench")
        .string(3, env!("CARGO_PKG_VERSION"))
        .message(7, graph)
        .message(8, opset("", ONNX_OPSET))
        .message(8, opset("com.microsoft", 1))
        .0
}

/// `[B, H, n, d]` (attnbench's layout) as `[B, n, H·d]` (ORT's), for B = 1.
pub fn heads_to_bsd(tensor: &[f32], heads: usize, seq_len: usize, head_dim: usize) -> Vec<f32> {
    let mut out = vec![0.0; tensor.len()];
    for h in 0..heads {
        for i in 0..seq_len {
            let from = (h * seq_len + i) * head_dim;
            let to = (i * heads + h) * head_dim;
            out[to..to + head_dim].copy_from_slice(&tensor[from..from + head_dim]);
        }
    }
    out
}

/// `[B, n, H·d]` (ORT's layout) as `[B, H, n, d]` (attnbench's), for B = 1.
pub fn bsd_to_heads(tensor: &[f32], heads: usize, seq_len: usize, head_dim: usize) -> Vec<f32> {
    let mut out = vec![0.0; tensor.len()];
    for h in 0..heads {
        for i in 0..seq_len {
            let from = (i * heads + h) * head_dim;
            let to = (h * seq_len + i) * head_dim;
            out[to..to + head_dim].copy_from_slice(&tensor[from..from + head_dim]);
        }
    }
    out
}

/// `onnxruntime-web 1.31.1: CopyKVCache + FlashAttention (flash)`: the version and the
/// distinct programs of one run, as ORT's profile names its dispatches
/// (`node&op&program`), and whether they are ORT's flash-attention program or its unfused
/// path.
pub fn program_label(version: &str, programs: &[String]) -> String {
    let mut distinct: Vec<&str> = Vec::new();
    for p in programs {
        let program = p.rsplit('&').next().unwrap_or(p);
        if !distinct.contains(&program) {
            distinct.push(program);
        }
    }
    let kind = if programs.is_empty() {
        "programs not reported"
    } else if programs.iter().any(|p| p.contains("FlashAttention")) {
        "flash"
    } else {
        "unfused"
    };
    let listed = if distinct.is_empty() {
        String::new()
    } else {
        format!("{} ", distinct.join(" + "))
    };
    format!("onnxruntime-web {version}: {listed}({kind})")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A protobuf field as read back: number and value (varint or bytes).
    #[derive(Debug, PartialEq)]
    enum Field {
        Int(u64, u64),
        Bytes(u64, Vec<u8>),
    }

    fn read_varint(bytes: &[u8], at: &mut usize) -> u64 {
        let mut value = 0;
        let mut shift = 0;
        loop {
            let b = bytes[*at];
            *at += 1;
            value |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return value;
            }
            shift += 7;
        }
    }

    /// The fields of one message (the whole of `bytes`).
    fn fields(bytes: &[u8]) -> Vec<Field> {
        let mut at = 0;
        let mut out = Vec::new();
        while at < bytes.len() {
            let key = read_varint(bytes, &mut at);
            match key & 7 {
                0 => out.push(Field::Int(key >> 3, read_varint(bytes, &mut at))),
                2 => {
                    let len = read_varint(bytes, &mut at) as usize;
                    out.push(Field::Bytes(key >> 3, bytes[at..at + len].to_vec()));
                    at += len;
                }
                wire => panic!("wire type {wire} not written here"),
            }
        }
        out
    }

    fn bytes_of(fields: &[Field], number: u64) -> Vec<&[u8]> {
        fields
            .iter()
            .filter_map(|f| match f {
                Field::Bytes(n, b) if *n == number => Some(b.as_slice()),
                _ => None,
            })
            .collect()
    }

    fn text(bytes: &[u8]) -> &str {
        std::str::from_utf8(bytes).unwrap()
    }

    #[test]
    fn varints_and_an_opset_import_encode_as_protobuf_does() {
        let mut out = Vec::new();
        varint(&mut out, 300);
        assert_eq!(out, [0xac, 0x02]);
        let opset = Message::default().string(1, "com.microsoft").int(2, 1).0;
        let mut want = vec![0x0a, 13];
        want.extend_from_slice(b"com.microsoft");
        want.extend_from_slice(&[0x10, 0x01]);
        assert_eq!(opset, want);
    }

    #[test]
    fn the_model_is_one_microsoft_multi_head_attention_node() {
        let shape = MhaShape {
            seq_len: 512,
            head_dim: 64,
            heads: 2,
        };
        let model = fields(&multi_head_attention(shape));
        assert!(model.contains(&Field::Int(1, IR_VERSION)));
        let opsets: Vec<Vec<Field>> = bytes_of(&model, 8).into_iter().map(fields).collect();
        assert!(
            opsets
                .iter()
                .any(|o| o.contains(&Field::Bytes(1, b"com.microsoft".to_vec()))
                    && o.contains(&Field::Int(2, 1)))
        );
        let graph = fields(bytes_of(&model, 7)[0]);
        let nodes = bytes_of(&graph, 1);
        assert_eq!(nodes.len(), 1);
        let node = fields(nodes[0]);
        assert_eq!(text(bytes_of(&node, 4)[0]), "MultiHeadAttention");
        assert_eq!(text(bytes_of(&node, 7)[0]), "com.microsoft");
        let inputs: Vec<&str> = bytes_of(&node, 1).into_iter().map(text).collect();
        assert_eq!(inputs, ["query", "key", "value"]);
        let outputs: Vec<&str> = bytes_of(&node, 2).into_iter().map(text).collect();
        assert_eq!(outputs, ["output", "present_key", "present_value"]);
        let attribute = fields(bytes_of(&node, 5)[0]);
        assert_eq!(text(bytes_of(&attribute, 1)[0]), "num_heads");
        assert!(attribute.contains(&Field::Int(3, 2)) && attribute.contains(&Field::Int(20, 2)));
        // Graph inputs and outputs with their static dims.
        let dims = |value: &[u8]| -> (String, Vec<u64>) {
            let value = fields(value);
            let name = text(bytes_of(&value, 1)[0]).to_string();
            let tensor = fields(bytes_of(&fields(bytes_of(&value, 2)[0]), 1)[0]);
            assert!(tensor.contains(&Field::Int(1, FLOAT)));
            let shape = fields(bytes_of(&tensor, 2)[0]);
            let dims = bytes_of(&shape, 1)
                .into_iter()
                .map(|d| match fields(d)[..] {
                    [Field::Int(1, v)] => v,
                    ref other => panic!("{other:?}"),
                })
                .collect();
            (name, dims)
        };
        let inputs: Vec<_> = bytes_of(&graph, 11).into_iter().map(dims).collect();
        assert_eq!(inputs[0], ("query".to_string(), vec![1, 512, 128]));
        assert_eq!(inputs.len(), 3);
        let outputs: Vec<_> = bytes_of(&graph, 12).into_iter().map(dims).collect();
        assert_eq!(outputs[1], ("present_key".to_string(), vec![1, 2, 512, 64]));
        assert_eq!(outputs.len(), 3);
    }

    #[test]
    fn programs_say_flash_or_unfused() {
        let flash = [
            "attention&MultiHeadAttention&CopyKVCache".to_string(),
            "attention&MultiHeadAttention&FlashAttention".to_string(),
        ];
        assert_eq!(
            program_label("1.31.1", &flash),
            "onnxruntime-web 1.31.1: CopyKVCache + FlashAttention (flash)"
        );
        let unfused = [
            "AttentionProbs".to_string(),
            "Softmax".to_string(),
            "AttentionScore".to_string(),
        ];
        assert_eq!(
            program_label("1.31.1", &unfused),
            "onnxruntime-web 1.31.1: AttentionProbs + Softmax + AttentionScore (unfused)"
        );
        assert!(program_label("1.31.1", &[]).ends_with("(programs not reported)"));
    }

    #[test]
    fn layouts_convert_both_ways() {
        // [1, 2 heads, 3 rows, 2 dims] with distinct values.
        let heads: Vec<f32> = (0..12).map(|i| i as f32).collect();
        let bsd = heads_to_bsd(&heads, 2, 3, 2);
        // Row 0: head 0's row 0, then head 1's row 0.
        assert_eq!(&bsd[..4], &[0.0, 1.0, 6.0, 7.0]);
        assert_eq!(bsd_to_heads(&bsd, 2, 3, 2), heads);
    }
}
