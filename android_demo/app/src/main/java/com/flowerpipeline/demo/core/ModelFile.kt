package com.flowerpipeline.demo.core

import java.nio.ByteBuffer
import java.nio.ByteOrder
import java.util.zip.CRC32

/**
 * The one model file the app ships: a .tflite that describes itself.
 *
 * `pipeline quantize` writes standard TFLite metadata into every exported model, and packs the
 * associated files (one `<head>_labels.txt` per head and this variant's `model.json`) as an
 * uncompressed zip appended after the flatbuffer, the layout MediaPipe Tasks reads. The zip's
 * central directory sits at the very end of the file, so it is found from there; entries are
 * stored, not deflated, so each is a slice of the file, checked against its CRC-32.
 */
object ModelFile {
    const val ASSET = "model.tflite"
    const val SPEC = "model.json"
    const val LABELS_SUFFIX = "_labels.txt"

    private const val EOCD = 0x06054b50
    private const val CENTRAL = 0x02014b50
    private const val LOCAL = 0x04034b50

    /** Name -> bytes of every associated file packed in the model. */
    fun associatedFiles(model: ByteBuffer): Map<String, ByteArray> =
        try {
            readZip(model.duplicate().order(ByteOrder.LITTLE_ENDIAN))
        } catch (e: IndexOutOfBoundsException) { // an offset past the end: a cut or damaged file
            throw JsonException("model zip: damaged (${e.message})")
        } catch (e: java.nio.BufferUnderflowException) {
            throw JsonException("model zip: damaged (entry runs past the end of the file)")
        }

    private fun readZip(buf: ByteBuffer): Map<String, ByteArray> {
        val base = buf.position()
        val size = buf.remaining()
        val eocd = findEndRecord(buf, base, size)
            ?: throw JsonException("the model file has no packed files (no TFLite metadata zip); re-export it with `pipeline quantize`")
        val count = buf.getShort(eocd + 10).toInt() and 0xFFFF
        val centralSize = buf.getInt(eocd + 12).toLong() and 0xFFFFFFFFL
        val centralOffset = buf.getInt(eocd + 16).toLong() and 0xFFFFFFFFL
        // Offsets are from the file's start; if a writer counted them from the zip's start
        // instead, the gap before the central directory says by how much.
        val shift = (eocd - base) - centralSize - centralOffset
        var entry = (base + centralOffset + shift).toInt()
        val files = LinkedHashMap<String, ByteArray>()
        repeat(count) {
            if (buf.getInt(entry) != CENTRAL) throw JsonException("model zip: damaged central directory")
            val method = buf.getShort(entry + 10).toInt() and 0xFFFF
            val crc = buf.getInt(entry + 16).toLong() and 0xFFFFFFFFL
            val length = buf.getInt(entry + 20)
            val nameLength = buf.getShort(entry + 28).toInt() and 0xFFFF
            val skip = (buf.getShort(entry + 30).toInt() and 0xFFFF) + (buf.getShort(entry + 32).toInt() and 0xFFFF)
            val local = (base + (buf.getInt(entry + 42).toLong() and 0xFFFFFFFFL) + shift).toInt()
            val name = String(bytes(buf, entry + 46, nameLength), Charsets.UTF_8)
            if (method != 0) throw JsonException("model zip: $name is compressed; expected stored entries")
            files[name] = storedData(buf, local, length, crc, name)
            entry += 46 + nameLength + skip
        }
        return files
    }

    /** This model's spec, from its packed model.json; its label files must agree with it (a
     *  regression head answers a number: it has no labels and packs no label file). */
    fun spec(model: ByteBuffer): ModelSpec {
        val files = associatedFiles(model)
        val json = files[SPEC] ?: throw JsonException("the model file packs no $SPEC (has ${files.keys})")
        val spec = ModelSpec.parse(String(json, Charsets.UTF_8))
        for ((head, labels) in spec.heads) {
            if (spec.kinds[head]?.kind == HeadKind.REGRESSION) {
                if (labels.isNotEmpty()) throw JsonException("$SPEC lists labels $labels for the regression head $head")
                continue
            }
            val file = files[head + LABELS_SUFFIX] ?: throw JsonException("the model file packs no $head$LABELS_SUFFIX")
            val lines = String(file, Charsets.UTF_8).lines().filter { it.isNotEmpty() }
            if (lines != labels) throw JsonException("$head$LABELS_SUFFIX $lines disagrees with $SPEC $labels")
        }
        return spec
    }

    fun spec(model: ByteArray): ModelSpec = spec(ByteBuffer.wrap(model))

    /** The end-of-central-directory record: last 22 bytes plus at most a 64 KiB comment. */
    private fun findEndRecord(buf: ByteBuffer, base: Int, size: Int): Int? {
        val last = base + size - 22
        val first = maxOf(base, last - 0xFFFF)
        for (at in last downTo first) if (buf.getInt(at) == EOCD) return at
        return null
    }

    private fun storedData(buf: ByteBuffer, local: Int, length: Int, crc: Long, name: String): ByteArray {
        if (buf.getInt(local) != LOCAL) throw JsonException("model zip: damaged entry $name")
        val start = local + 30 + (buf.getShort(local + 26).toInt() and 0xFFFF) + (buf.getShort(local + 28).toInt() and 0xFFFF)
        val data = bytes(buf, start, length)
        val check = CRC32().apply { update(data) }.value
        if (check != crc) throw JsonException("model zip: $name fails its CRC check")
        return data
    }

    private fun bytes(buf: ByteBuffer, at: Int, length: Int): ByteArray {
        val out = ByteArray(length)
        val view = buf.duplicate()
        view.position(at)
        view.get(out)
        return out
    }
}
