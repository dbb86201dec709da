package io.spinstream.model.checkpoint;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Iterator;
import java.util.List;
import java.util.Comparator;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The safetensors format (8-byte little-endian header length, a JSON header of name → dtype, shape and
 * byte range, then the raw little-endian data), as Hugging Face writes it. Reads F32, F64, F16 and BF16
 * (widened to float32); writes F32, F64 and F16.
 */
public final class Safetensors {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final long MAX_HEADER = 100L * 1024 * 1024;

    private Safetensors() {
    }

    /**
     * Writes the tensors in their own types (F32, F64, BF16, F16): the header first, from the shapes alone,
     * then one tensor's bytes at a time, so no second copy of all the weights is ever held.
     */
    public static void write(OutputStream out, Map<String, NDArray> tensors) throws IOException {
        ObjectNode header = JSON.createObjectNode();
        header.putObject("__metadata__").put("format", "pt");
        long offset = 0;
        for (Map.Entry<String, NDArray> e : tensors.entrySet()) {
            NDArray t = e.getValue();
            String dtype = switch (t.getDataType()) {
                case FLOAT32 -> "F32";
                case FLOAT64 -> "F64";
                case FLOAT16 -> "F16";
                default -> throw new IllegalArgumentException("cannot write " + e.getKey() + " of type " + t.getDataType());
            };
            long bytes = t.getShape().size() * width(dtype);
            ObjectNode entry = header.putObject(e.getKey());
            entry.put("dtype", dtype);
            var shape = entry.putArray("shape");
            for (long d : t.getShape().getShape()) {
                shape.add(d);
            }
            entry.putArray("data_offsets").add(offset).add(offset + bytes);
            offset += bytes;
        }
        byte[] headerBytes = JSON.writeValueAsBytes(header);
        int padding = (8 - headerBytes.length % 8) % 8; // keep the data 8-byte aligned, as HF does
        byte[] padded = new byte[headerBytes.length + padding];
        System.arraycopy(headerBytes, 0, padded, 0, headerBytes.length);
        for (int i = headerBytes.length; i < padded.length; i++) {
            padded[i] = ' ';
        }
        out.write(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(padded.length).array());
        out.write(padded);
        byte[] chunk = new byte[1 << 20];
        for (NDArray t : tensors.values()) {
            ByteBuffer raw = t.toByteBuffer().order(ByteOrder.LITTLE_ENDIAN); // native order on x86/ARM Linux
            while (raw.hasRemaining()) {
                int n = Math.min(chunk.length, raw.remaining());
                raw.get(chunk, 0, n);
                out.write(chunk, 0, n);
            }
        }
    }

    private static int width(String dtype) {
        return switch (dtype) {
            case "F32" -> 4;
            case "F64" -> 8;
            case "F16", "BF16" -> 2;
            default -> -1;
        };
    }

    /**
     * Checks, from the header alone, that the file holds every byte its tensors need: a copy cut short
     * is refused before anything is loaded, naming the file.
     */
    public static void checkComplete(Path file) {
        if (!Files.isRegularFile(file)) {
            throw new CheckpointException(file + " is missing");
        }
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ)) {
            header(file, channel); // its layout checked against the file's size: a truncated file is refused there
        } catch (IOException e) {
            throw new CheckpointException("cannot read " + file + ": " + e.getMessage(), e);
        }
    }

    /** The JSON header, where the data begins and the file's size. */
    private record Header(JsonNode json, long dataStart, long size) {
    }

    private static Header header(Path file, FileChannel channel) throws IOException {
        long size = channel.size();
        if (size < 8) {
            throw new CheckpointException(file + " is not a safetensors file: " + size + " bytes");
        }
        ByteBuffer lenBuf = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
        channel.read(lenBuf, 0);
        long headerLen = lenBuf.flip().getLong();
        if (headerLen <= 0 || headerLen > MAX_HEADER || 8 + headerLen > size) {
            throw new CheckpointException(file + " has a bad safetensors header length " + headerLen
                    + " for a file of " + size + " bytes (truncated or not safetensors)");
        }
        ByteBuffer headerBuf = ByteBuffer.allocate((int) headerLen);
        channel.read(headerBuf, 8);
        Header h = new Header(JSON.readTree(new String(headerBuf.array(), StandardCharsets.UTF_8)), 8 + headerLen, size);
        checkLayout(file, h);
        return h;
    }

    /**
     * The header describes the data exactly, as the format's own parser demands, before a byte of it is read: every
     * tensor's shape non-negative whole numbers whose product fits, its byte range its shape's size, and the ranges,
     * in order, tile the data with no overlap and no hole, to the file's end.
     */
    private static void checkLayout(Path file, Header h) {
        if (!h.json().isObject()) {
            throw new CheckpointException(file + ": the safetensors header is not a JSON object");
        }
        List<long[]> ranges = new ArrayList<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = h.json().fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> f = it.next();
            if (f.getKey().equals("__metadata__")) {
                continue;
            }
            String name = f.getKey();
            JsonNode info = f.getValue();
            int width = width(info.path("dtype").asText());
            if (width < 0) {
                throw new CheckpointException(file + ": tensor " + name + " has unsupported dtype " + info.path("dtype"));
            }
            long elements = 1;
            for (JsonNode d : info.path("shape")) {
                if (!d.isIntegralNumber() || !d.canConvertToLong() || d.asLong() < 0) {
                    throw new CheckpointException(file + ": tensor " + name + " has shape " + info.path("shape")
                            + ": each dimension must be a whole number >= 0");
                }
                try {
                    elements = Math.multiplyExact(elements, d.asLong());
                } catch (ArithmeticException e) {
                    throw new CheckpointException(file + ": tensor " + name + " has shape " + info.path("shape")
                            + ", whose size overflows");
                }
            }
            JsonNode offsets = info.path("data_offsets");
            long begin = offsets.path(0).asLong(-1);
            long end = offsets.path(1).asLong(-1);
            long bytes;
            try {
                bytes = Math.multiplyExact(elements, width);
            } catch (ArithmeticException e) {
                throw new CheckpointException(file + ": tensor " + name + " is too large");
            }
            if (!offsets.isArray() || offsets.size() != 2 || begin < 0 || end < begin || end - begin != bytes) {
                throw new CheckpointException(file + ": tensor " + name + " has byte range " + offsets
                        + ", which is not its shape's " + bytes + " bytes");
            }
            ranges.add(new long[]{begin, end, ranges.size()});
        }
        ranges.sort(Comparator.comparingLong((long[] r) -> r[0]).thenComparingLong(r -> r[1]));
        long at = 0;
        for (long[] r : ranges) {
            if (r[0] != at) {
                throw new CheckpointException(file + ": tensors " + (r[0] < at ? "overlap" : "leave a hole") + " at byte "
                        + Math.min(r[0], at) + " of the data: each byte must belong to exactly one tensor");
            }
            at = r[1];
        }
        if (h.dataStart() + at != h.size()) {
            throw new CheckpointException(file + (h.dataStart() + at > h.size() ? " is truncated: its tensors need " : " has "
                    + (h.size() - h.dataStart() - at) + " bytes after its tensors: they need ") + (h.dataStart() + at)
                    + " bytes, the file has " + h.size());
        }
    }

    /** Every tensor of the file, by name, in the file's order, in its own type (bfloat16 as float32). */
    public static Map<String, NDArray> read(Path file, NDManager manager) {
        return read(file, manager, t -> t);
    }

    /**
     * As {@link #read(Path, NDManager)}, each tensor passed through {@code convert} as soon as it is read
     * (a loader narrowing to half precision holds one wide tensor at a time, never the whole file).
     */
    public static Map<String, NDArray> read(Path file, NDManager manager, java.util.function.UnaryOperator<NDArray> convert) {
        return read(file, manager, convert, CHUNK);
    }

    /** As {@link #read(Path, NDManager, java.util.function.UnaryOperator)}, reading {@code chunkBytes} at a time. */
    static Map<String, NDArray> read(Path file, NDManager manager, java.util.function.UnaryOperator<NDArray> convert, long chunkBytes) {
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ)) {
            Header h = header(file, channel);
            JsonNode header = h.json();
            long dataStart = h.dataStart();
            Map<String, NDArray> out = new LinkedHashMap<>();
            Iterator<Map.Entry<String, JsonNode>> fields = header.fields();
            while (fields.hasNext()) {
                Map.Entry<String, JsonNode> f = fields.next();
                if (f.getKey().equals("__metadata__")) {
                    continue;
                }
                NDArray read = tensor(file, channel, f.getKey(), f.getValue(), dataStart, manager, chunkBytes);
                NDArray kept = convert.apply(read);
                if (kept != read) {
                    read.close();
                }
                out.put(f.getKey(), kept);
            }
            return out;
        } catch (IOException e) {
            throw new CheckpointException("cannot read " + file + ": " + e.getMessage(), e);
        }
    }

    private static NDArray tensor(Path file, FileChannel channel, String name, JsonNode info, long dataStart,
                                  NDManager manager, long chunkBytes) throws IOException {
        String dtype = info.path("dtype").asText();
        long[] shape = new long[info.path("shape").size()];
        for (int i = 0; i < shape.length; i++) {
            shape[i] = info.path("shape").get(i).asLong();
        }
        long begin = info.path("data_offsets").path(0).asLong(); // the header's layout is checked (checkLayout)
        int width = width(dtype);
        long elements = new Shape(shape).size();
        Shape s = new Shape(shape);
        // Read in pieces of at most CHUNK bytes, each copied into native memory at once: the Java heap never
        // holds a whole tensor (a 0.5B model's embedding is 0.5 GB as float32).
        long perElementOut = dtype.equals("BF16") ? 4 : width;
        long chunkElements = Math.max(1, chunkBytes / perElementOut);
        if (elements <= chunkElements) {
            // A tensor created from Java data lives in that Java memory (unaligned for libtorch's kernels, and
            // gone with its array): the copy that is returned is libtorch's own.
            try (NDManager scratch = manager.newSubManager()) {
                NDArray read = piece(dtype, readFully(file, channel, name, dataStart + begin, (int) (elements * width)),
                        (int) elements, s, scratch);
                NDArray owned = read.duplicate();
                owned.attach(manager);
                return owned;
            }
        }
        ai.djl.ndarray.NDList parts = new ai.djl.ndarray.NDList();
        try (NDManager scratch = manager.newSubManager()) {
            for (long first = 0; first < elements; first += chunkElements) {
                int n = (int) Math.min(chunkElements, elements - first);
                ByteBuffer buf = readFully(file, channel, name, dataStart + begin + first * width, n * width);
                parts.add(piece(dtype, buf, n, new Shape(n), scratch));
            }
            // concat copies into memory of libtorch's own, of which the reshaped result is a view.
            NDArray out = ai.djl.ndarray.NDArrays.concat(parts, 0).reshape(s);
            out.attach(manager);
            return out;
        }
    }

    private static ByteBuffer readFully(Path file, FileChannel channel, String name, long at, int bytes) throws IOException {
        ByteBuffer buf = ByteBuffer.allocate(bytes).order(ByteOrder.LITTLE_ENDIAN);
        while (buf.hasRemaining()) {
            if (channel.read(buf, at + buf.position()) < 0) {
                throw new CheckpointException(file + ": tensor " + name + " ends early (truncated?)");
            }
        }
        buf.flip();
        return buf;
    }

    private static final long CHUNK = 32L << 20;

    private static NDArray piece(String dtype, ByteBuffer buf, int n, Shape shape, NDManager manager) {
        return switch (dtype) {
            case "F32" -> {
                float[] v = new float[n];
                buf.asFloatBuffer().get(v);
                yield manager.create(v, shape);
            }
            case "F64" -> {
                double[] v = new double[n];
                buf.asDoubleBuffer().get(v);
                yield manager.create(v, shape);
            }
            // bfloat16 widens to float32 exactly (the upper half of a float32's bits): DJL 0.35's PyTorch
            // binding cannot hold bfloat16 tensors (it aborts the process on them).
            case "BF16" -> {
                float[] v = new float[n];
                for (int i = 0; i < n; i++) {
                    v[i] = Float.intBitsToFloat((buf.getShort() & 0xFFFF) << 16);
                }
                yield manager.create(v, shape);
            }
            // float16 stays float16: whoever needs float32 converts (a frozen half-precision base never does).
            default -> manager.create(buf, shape, DataType.FLOAT16);
        };
    }
}
