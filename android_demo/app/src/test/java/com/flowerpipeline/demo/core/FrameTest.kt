package com.flowerpipeline.demo.core

import org.junit.Assert.assertArrayEquals
import org.junit.Assert.assertEquals
import org.junit.Assert.assertTrue
import org.junit.Test
import java.lang.management.ManagementFactory
import java.nio.ByteBuffer
import java.nio.ByteOrder
import java.util.Random

/**
 * The live path: a camera frame (RGBA bytes, padded rows, turned) read through the rotation's
 * mapping must give the bytes of the plain path on an upright copy (whose bytes GoldenInputTest
 * holds to Pillow's), and must allocate nothing per frame once the first frame is done.
 */
class FrameTest {
    private fun spec(dtype: DType, size: Int) =
        InputSpec("image", dtype, listOf(1, size, size, 3), floatArrayOf(120f, 115f, 100f), floatArrayOf(60f, 58f, 57f), null)

    /** A w x h frame of random RGBA bytes, rows `stride` bytes apart; and its packed ARGB. */
    private class Frame(val w: Int, val h: Int, val stride: Int, seed: Long, order: ByteOrder) {
        val plane: ByteBuffer = ByteBuffer.allocateDirect(h * stride).order(order)
        val argb = IntArray(w * h)

        init {
            val random = Random(seed)
            for (y in 0 until h) for (x in 0 until w) {
                val (r, g, b) = Triple(random.nextInt(256), random.nextInt(256), random.nextInt(256))
                val at = y * stride + x * 4
                plane.put(at, r.toByte()); plane.put(at + 1, g.toByte()); plane.put(at + 2, b.toByte())
                plane.put(at + 3, 0xFF.toByte())
                argb[y * w + x] = (0xFF shl 24) or (r shl 16) or (g shl 8) or b
            }
        }
    }

    @Test
    fun aTurnedPaddedFrameGivesTheBytesOfItsUprightCopy() {
        for ((dtype, q) in listOf(DType.UINT8 to Quantization(1f / 128, 128), DType.FLOAT32 to null)) {
            for (order in listOf(ByteOrder.LITTLE_ENDIAN, ByteOrder.BIG_ENDIAN)) {
                val frame = Frame(67, 41, 67 * 4 + 20, 3, order)
                val pre = Preprocessor(spec(dtype, 16), q)
                val out = pre.newBuffer()
                for (degrees in listOf(0, 90, 180, 270)) {
                    pre.fillRgba(frame.plane, frame.w, frame.h, frame.stride, degrees, out)
                    val actual = ByteArray(pre.byteSize).also { out.get(it) }
                    val upright = Orientation.upright(frame.argb, frame.w, frame.h, Orientation.fromRotation(degrees))
                    val expected = Preprocessor(spec(dtype, 16), q).toBytes(upright.pixels, upright.width, upright.height)
                    assertArrayEquals("$dtype $order $degrees degrees", expected, actual)
                }
            }
        }
    }

    @Test
    fun everyExifOrientationReadThroughItsMappingEqualsTheTurnedCopy() {
        val frame = Frame(29, 53, 29 * 4, 5, ByteOrder.LITTLE_ENDIAN)
        val pre = Preprocessor(spec(DType.UINT8, 12), Quantization(1f / 128, 128))
        for (orientation in 1..8) {
            val upright = Orientation.upright(frame.argb, frame.w, frame.h, orientation)
            assertArrayEquals("orientation $orientation",
                pre.toBytes(upright.pixels, upright.width, upright.height),
                pre.toBytes(frame.argb, frame.w, frame.h, orientation))
        }
    }

    @Test
    fun noBytesAreAllocatedPerFrameAfterTheFirst() {
        val threads = ManagementFactory.getThreadMXBean() as com.sun.management.ThreadMXBean
        for (dtype in listOf(DType.UINT8, DType.FLOAT32)) {
            val frame = Frame(640, 480, 640 * 4 + 64, 7, ByteOrder.LITTLE_ENDIAN)
            val pre = Preprocessor(spec(dtype, 224), if (dtype == DType.FLOAT32) null else Quantization(1f / 128, 128))
            val out = pre.newBuffer()
            fun frames(n: Int): Long {
                val before = threads.currentThreadAllocatedBytes
                for (i in 0 until n) pre.fillRgba(frame.plane, 640, 480, frame.stride, if (i % 2 == 0) 90 else 0, out)
                return threads.currentThreadAllocatedBytes - before
            }
            frames(100) // first frames and the JIT's warm-up
            // The JIT itself allocates ~1 kB now and then while it compiles (seen once in about
            // six runs inside a 20-frame window): a window of 0 bytes out of three proves no frame
            // allocates, since a per-frame allocation would show in every window.
            val windows = List(3) { frames(20) }
            assertTrue("$dtype: bytes allocated over 20 frames (turned and not), 3 windows: $windows",
                windows.any { it == 0L })
        }
    }

    @Test
    fun aFrameIsReadInPlaceNotCopied() {
        // The first frame allocates only the resize's buffers: less than a copy of the frame.
        val threads = ManagementFactory.getThreadMXBean() as com.sun.management.ThreadMXBean
        val frame = Frame(640, 480, 640 * 4 + 64, 7, ByteOrder.LITTLE_ENDIAN)
        val pre = Preprocessor(spec(DType.UINT8, 224), Quantization(1f / 128, 128))
        val out = pre.newBuffer()
        val before = threads.currentThreadAllocatedBytes
        pre.fillRgba(frame.plane, 640, 480, frame.stride, 90, out)
        val allocated = threads.currentThreadAllocatedBytes - before
        assertTrue("the first frame allocated $allocated bytes; a copy of it takes ${640 * 480 * 4}", allocated < 640 * 480 * 4)
    }
}
