package com.flowerpipeline.demo.core

import java.nio.ByteBuffer
import java.nio.ByteOrder
import kotlin.math.ceil
import kotlin.math.max

/**
 * Bilinear resize of the whole image, bit-exact with Pillow's `Image.resize(..., BILINEAR)`.
 *
 * The Python side (training, `pipeline predict`) resizes with Pillow, and Pillow's "bilinear"
 * is a separable triangle filter whose support widens when shrinking (an antialiasing resize),
 * computed in 22-bit fixed point, one axis after the other (see [verticalFirst] for which
 * first), each pass rounded to 8 bits. Android's Bitmap.createScaledBitmap is a different
 * filter; matching Pillow here means the phone feeds the model the same bytes Python does
 * (checked by GoldenInputTest).
 *
 * Built for a camera's frame rate: the taps of an (input size -> output size) pair are computed
 * once and kept ([Resizer] caches them per input size); the image is read where it lies
 * ([Pixels]: an ARGB array or the camera's RGBA plane) through an [Orientation.Mapping], so a
 * turned frame is never copied upright first, and each of its pixels is read once; the buffers
 * are kept between frames.
 */
object PilBilinear {
    internal const val PRECISION_BITS = 32 - 8 - 2
    internal const val ONE = 1 shl PRECISION_BITS
    internal const val HALF = ONE / 2

    /** Per output index: first input index, number of taps, and fixed-point weights. */
    internal class Taps(val inSize: Int, outSize: Int) {
        val start = IntArray(outSize)
        val count = IntArray(outSize)
        val width: Int
        val weights: IntArray

        init {
            val scale = inSize.toDouble() / outSize
            val filterScale = max(scale, 1.0)
            val support = filterScale // the triangle's own support is 1
            width = ceil(support).toInt() * 2 + 1
            require(255 * width < ONE) { "$inSize -> $outSize px: too many taps for [pack]" }
            weights = IntArray(outSize * width)
            val w = DoubleArray(width)
            for (o in 0 until outSize) {
                val center = (o + 0.5) * scale
                // Double.toInt truncates toward zero, like the C cast Pillow uses.
                val lo = max((center - support + 0.5).toInt(), 0)
                val n = minOf((center + support + 0.5).toInt(), inSize) - lo
                var total = 0.0
                for (t in 0 until n) {
                    w[t] = triangle((t + lo - center + 0.5) / filterScale)
                    total += w[t]
                }
                for (t in 0 until n) {
                    val v = (if (total != 0.0) w[t] / total else w[t]) * (1 shl PRECISION_BITS)
                    weights[o * width + t] = if (v < 0) (v - 0.5).toInt() else (v + 0.5).toInt()
                }
                start[o] = lo
                count[o] = n
            }
        }

        private fun triangle(x: Double): Double {
            val a = if (x < 0) -x else x
            return if (a < 1.0) 1.0 - a else 0.0
        }
    }

    /**
     * Pillow's clip8 (a sum back to a level, clamped to 0..255) as a plain shift, which the JIT
     * vectorizes (Math.min/max it does not): no sum here needs the clamp. The weights are >= 0
     * and, rounded one by one, add up to ONE within width / 2, so a weighted sum of levels lies in
     * [HALF, HALF + 255 * (ONE + width / 2)), below 256 * ONE while 255 * width < ONE ([Taps]).
     */
    internal fun pack(r: Int, g: Int, b: Int): Int =
        (r shr PRECISION_BITS shl 16) or (g shr PRECISION_BITS shl 8) or (b shr PRECISION_BITS)

    /**
     * Each pass rounds to 8 bits, so their order changes results by one level here and there:
     * Pillow 13 (the pinned version; python-pillow/Pillow#9549) runs the vertical pass first
     * when the height shrinks by more than twice as many pixels as the width, else rows first.
     * (Pillow skips a pass whose side already has the size; here that pass runs with one tap
     * of weight 1, which gives the same bytes.)
     */
    fun verticalFirst(width: Int, height: Int, size: Int): Boolean =
        height > size && height - size > 2 * (width - size)

    /** Packed pixels (ARGB; alpha ignored) width x height -> size x size packed 0xRRGGBB. */
    fun resize(argb: IntArray, width: Int, height: Int, size: Int): IntArray =
        Resizer(size).resize(ArgbPixels(argb), Orientation.mapping(width, height, width, Orientation.NORMAL)).copyOf()
}

/**
 * Where a resize reads its image: `n` pixels from position `at`, `step` apart, as packed
 * 0xRRGGBB ints into `into` (the top 8 bits are ignored). Positions are the
 * [Orientation.Mapping]'s. [Resizer] calls it once per line of pixels, never per pixel, and
 * reads each pixel of a frame once.
 */
internal interface Pixels {
    fun read(at: Int, step: Int, n: Int, into: IntArray)
}

/** Packed ARGB pixels (Bitmap.getPixels, ImageIO getRGB); a position is an index. */
internal class ArgbPixels(var argb: IntArray = EMPTY) : Pixels {
    override fun read(at: Int, step: Int, n: Int, into: IntArray) {
        val argb = argb
        var i = at
        for (k in 0 until n) {
            into[k] = argb[i]
            i += step
        }
    }

    companion object {
        val EMPTY = IntArray(0)
    }
}

/**
 * CameraX's OUTPUT_IMAGE_FORMAT_RGBA_8888 plane: R, G, B, A bytes; a position is a byte offset
 * (a mapping made with pixelStep 4). Read in place: the frame is never copied.
 */
internal class RgbaPlane(var plane: ByteBuffer = EMPTY) : Pixels {
    override fun read(at: Int, step: Int, n: Int, into: IntArray) {
        val plane = plane
        var i = at
        // little endian: 0xAABBGGRR; big endian: 0xRRGGBBAA -> 0x..RRGGBB either way
        if (plane.order() == ByteOrder.LITTLE_ENDIAN) { // order() returns a field: no garbage
            for (k in 0 until n) {
                val p = plane.getInt(i)
                into[k] = ((p and 0xFF) shl 16) or (p and 0xFF00) or ((p shr 16) and 0xFF)
                i += step
            }
        } else {
            for (k in 0 until n) {
                into[k] = plane.getInt(i) ushr 8
                i += step
            }
        }
    }

    companion object {
        val EMPTY: ByteBuffer = ByteBuffer.allocate(0)
    }
}

/**
 * A resize to `size` x `size` that allocates only when it meets a larger image or a new input
 * size: its output, its buffers and the taps of the last few input sizes are kept.
 *
 * Both passes work on whole lines: an output of the first pass, for every line of the image
 * at once, is the weighted sum of the image lines under its taps ([firstPass]); an output of
 * the second, for all `size` first-pass results at once, is the weighted sum of whole lines of
 * [middle] ([secondPass]). So each pixel is read from [Pixels] once, and the inner loops
 * ([add], [pack]) are plain loops over separate arrays from index 0, the only shape the JIT
 * turns into SIMD code (an offset into a shared array, or Math.min/max, keeps them scalar).
 * Integer sums in another order give the same bytes.
 */
class Resizer(val size: Int) {
    /** The last result, size x size packed 0xRRGGBB; overwritten by the next call. */
    val out = IntArray(size * size)
    private val taps = arrayOfNulls<PilBilinear.Taps>(4) // width and height, before and after a turn
    private var next = 0
    /** The first pass's result: `size` values for each image line across its taps. */
    private var middle = arrayOf<IntArray>()
    /** Image lines the first pass holds: line u in slot u % slots.size, held[slot] = u. */
    private var slots = arrayOf(IntArray(0))
    private var held = IntArray(1)
    /** Running sums per channel, one per line, and one packed line. */
    private var r = IntArray(0)
    private var g = IntArray(0)
    private var b = IntArray(0)
    private val packed = IntArray(size)

    private fun taps(inSize: Int): PilBilinear.Taps {
        for (t in taps) if (t != null && t.inSize == inSize) return t
        return PilBilinear.Taps(inSize, size).also { taps[next] = it; next = (next + 1) % taps.size }
    }

    /** The image `src` seen through `m` (upright size m.width x m.height) -> [out]. */
    internal fun resize(src: Pixels, m: Orientation.Mapping): IntArray {
        val vertical = PilBilinear.verticalFirst(m.width, m.height, size)
        // The first pass's taps run along upright x (rows first) or y; its lines, the other way.
        val first = taps(if (vertical) m.height else m.width)
        val lines = if (vertical) m.width else m.height
        buffers(lines, first.width)
        if (vertical) firstPass(src, m.origin, m.stepY, m.stepX, lines, first)
        else firstPass(src, m.origin, m.stepX, m.stepY, lines, first)
        secondPass(taps(lines), vertical)
        return out
    }

    private fun buffers(lines: Int, width: Int) {
        if (middle.size < lines) middle = Array(lines) { IntArray(size) }
        if (slots.size < width || slots[0].size < lines) {
            slots = Array(max(slots.size, width)) { IntArray(max(slots[0].size, lines)) }
            held = IntArray(slots.size)
        }
        if (r.size < max(lines, size)) {
            r = IntArray(max(lines, size)); g = IntArray(r.size); b = IntArray(r.size)
        }
    }

    /**
     * Output o of every line, into value o of each [middle] line: the weighted sum of the image
     * lines u (positions origin + u * tapStep + l * lineStep) under o's taps.
     */
    private fun firstPass(src: Pixels, origin: Int, tapStep: Int, lineStep: Int, lines: Int, t: PilBilinear.Taps) {
        java.util.Arrays.fill(held, -1) // a new image: no line held
        for (o in 0 until size) {
            sums(lines)
            for (k in 0 until t.count[o]) {
                val u = t.start[o] + k
                add(line(src, u, origin + u * tapStep, lineStep, lines), t.weights[o * t.width + k], lines)
            }
            for (l in 0 until lines) middle[l][o] = PilBilinear.pack(r[l], g[l], b[l])
        }
    }

    /**
     * Image line u, read the first time a tap needs it and held while later outputs may: taps
     * only move forward, and no output has more taps than there are slots.
     */
    private fun line(src: Pixels, u: Int, at: Int, step: Int, n: Int): IntArray {
        val slot = u % slots.size
        if (held[slot] != u) {
            src.read(at, step, n, slots[slot])
            held[slot] = u
        }
        return slots[slot]
    }

    /** Output o2 of all `size` first-pass results at once, from whole lines of [middle]. */
    private fun secondPass(t: PilBilinear.Taps, vertical: Boolean) {
        for (o2 in 0 until size) {
            sums(size)
            for (k in 0 until t.count[o2]) add(middle[t.start[o2] + k], t.weights[o2 * t.width + k], size)
            pack(size)
            // rows first: o2 is the output row; columns first, the output column
            if (!vertical) System.arraycopy(packed, 0, out, o2 * size, size)
            else for (o1 in 0 until size) out[o1 * size + o2] = packed[o1]
        }
    }

    private fun sums(n: Int) {
        java.util.Arrays.fill(r, 0, n, PilBilinear.HALF)
        java.util.Arrays.fill(g, 0, n, PilBilinear.HALF)
        java.util.Arrays.fill(b, 0, n, PilBilinear.HALF)
    }

    /** r, g, b[0 until n] += w * the channels of line[0 until n]. */
    private fun add(line: IntArray, w: Int, n: Int) {
        val r = r
        val g = g
        val b = b
        for (x in 0 until n) {
            val p = line[x]
            r[x] += (p shr 16 and 0xFF) * w
            g[x] += (p shr 8 and 0xFF) * w
            b[x] += (p and 0xFF) * w
        }
    }

    /** [packed][0 until n] = the sums as levels. */
    private fun pack(n: Int) {
        val r = r
        val g = g
        val b = b
        val packed = packed
        for (x in 0 until n) packed[x] = PilBilinear.pack(r[x], g[x], b[x])
    }
}
