package com.flowerpipeline.demo.core

import org.junit.Assert.assertArrayEquals
import org.junit.Assert.assertEquals
import org.junit.Assert.assertThrows
import org.junit.Test
import java.nio.ByteBuffer
import java.nio.ByteOrder

class PreprocessTest {
    private fun spec(dtype: DType, size: Int, mean: Float = 128f, std: Float = 128f) =
        InputSpec("image", dtype, listOf(1, size, size, 3), FloatArray(3) { mean }, FloatArray(3) { std }, null)

    private fun gray(values: IntArray): IntArray = IntArray(values.size) { values[it] * 0x010101 }

    private fun rgb(r: Int, g: Int, b: Int) = (0xFF shl 24) or (r shl 16) or (g shl 8) or b

    @Test
    fun shrinkingAveragesWithTheWidenedTriangle() {
        // 4 -> 2: Pillow's weights are (3, 3, 1)/7 and (1, 3, 3)/7 over neighbouring pixels.
        val out = PilBilinear.resize(gray(intArrayOf(0, 70, 140, 210)), 4, 1, 2)
        // Only the width changes here; the 1-row height is resized to 2 as well.
        assertEquals(2 * 2, out.size)
        assertEquals(gray(intArrayOf(50, 160, 50, 160)).toList(), out.toList())
    }

    @Test
    fun aTallImageIsResizedColumnsFirstAsPillow13Does() {
        // 4 x 9 gray -> 3 x 3: the height shrinks by 6, more than twice the width's 1, so
        // Pillow 13 runs the vertical pass first; rows first would give 158 and 106 for the
        // fifth and eighth pixels. Expected values printed by Pillow 13.0.0.
        val tall = intArrayOf(95, 130, 194, 217, 207, 235, 15, 163, 33, 215, 217, 130, 248, 189, 16, 69, 184,
                              232, 205, 78, 169, 61, 125, 10, 29, 240, 66, 19, 182, 39, 59, 4, 59, 81, 222, 44)
        assertEquals(true, PilBilinear.verticalFirst(4, 9, 3))
        assertEquals(false, PilBilinear.verticalFirst(9, 4, 3))
        val out = PilBilinear.resize(gray(tall), 4, 9, 3)
        assertArrayEquals(gray(intArrayOf(158, 154, 143, 168, 157, 81, 109, 107, 46)), out)
    }

    @Test
    fun sameSizeIsUntouchedAndFlatStaysFlat() {
        val img = IntArray(5 * 5) { (it * 0x25C1D3) and 0xFFFFFF }
        assertArrayEquals(img, PilBilinear.resize(img, 5, 5, 5))
        val flat = IntArray(13 * 7) { rgb(77, 1, 250) }
        PilBilinear.resize(flat, 13, 7, 4).forEach { assertEquals(0x4D01FA, it) }
        PilBilinear.resize(flat, 13, 7, 20).forEach { assertEquals(0x4D01FA, it) }
    }

    @Test
    fun floatInputIsNormalizedInNativeOrder() {
        val bytes = Preprocessor(spec(DType.FLOAT32, 1), null).toBytes(intArrayOf(rgb(255, 128, 0)), 1, 1)
        val floats = ByteBuffer.wrap(bytes).order(ByteOrder.nativeOrder()).asFloatBuffer()
        assertEquals(0.9921875f, floats.get(0), 0f)
        assertEquals(0f, floats.get(1), 0f)
        assertEquals(-1f, floats.get(2), 0f)
    }

    @Test
    fun quantizationRoundsHalfToEvenAndClamps() {
        val pre = Preprocessor(spec(DType.UINT8, 1, mean = 0f, std = 1f), Quantization(2f, 0))
        // 1/2 -> 0 and 3/2 -> 2 (ties to even, as numpy.round); 255/2 = 127.5 -> 128.
        assertArrayEquals(byteArrayOf(0, 2, 128.toByte()), pre.toBytes(intArrayOf(rgb(1, 3, 255)), 1, 1))
        val int8 = Preprocessor(spec(DType.INT8, 1, mean = 0f, std = 1f), Quantization(0.5f, -128))
        assertArrayEquals(byteArrayOf(-128, 127, 127), int8.toBytes(intArrayOf(rgb(0, 200, 255)), 1, 1))
    }

    @Test
    fun foldedNormalizationGivesThePixelsBack() {
        // mean = std = 128 with scale 1/128, zero point 128: the uint8 input is the pixel itself.
        val pre = Preprocessor(spec(DType.UINT8, 1), Quantization(1f / 128, 128))
        assertArrayEquals(byteArrayOf(0, 17, 255.toByte()), pre.toBytes(intArrayOf(rgb(0, 17, 255)), 1, 1))
    }

    @Test
    fun integerInputWithoutQuantizationIsRefused() {
        assertThrows(IllegalArgumentException::class.java) { Preprocessor(spec(DType.UINT8, 2), null) }
    }

    @Test
    fun alphaIsIgnored() {
        val pre = Preprocessor(spec(DType.UINT8, 1), Quantization(1f / 128, 128))
        assertArrayEquals(byteArrayOf(0x12, 0x34, 0x56), pre.toBytes(intArrayOf(0x7F123456), 1, 1))
    }

    @Test
    fun theInputTensorSizeIsCheckedAgainstTheDescription() {
        val pre = Preprocessor(spec(DType.UINT8, 4), Quantization(1f / 128, 128))
        pre.checkInputBytes(4 * 4 * 3)
        val e = assertThrows(InputMismatch::class.java) { pre.checkInputBytes(4 * 4 * 3 * 4) }
        assertEquals("the model's input 'image' takes 192 bytes, but its description ([1, 4, 4, 3], uint8) makes 48", e.message)
    }
}
