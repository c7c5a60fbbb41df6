package com.flowerpipeline.demo.core

import org.junit.Assert.assertArrayEquals
import org.junit.Assert.assertEquals
import org.junit.Assert.assertThrows
import org.junit.Test
import java.nio.ByteBuffer
import java.nio.ByteOrder

class OutputsTest {
    private val heads = linkedMapOf("flower_type" to listOf("rose", "daisy"),
                                    "flower_color" to listOf("red", "pink", "white"))

    @Test
    fun dequantizesUint8AndReadsFloats() {
        val raw = ByteBuffer.wrap(byteArrayOf(0, 128.toByte(), 255.toByte()))
        assertArrayEquals(floatArrayOf(0f, 0.5f, 255f / 256), Outputs.dequantize(raw, DType.UINT8, Quantization(1f / 256, 0), 3), 1e-7f)
        val floats = ByteBuffer.allocate(8).order(ByteOrder.nativeOrder()).putFloat(0.25f).putFloat(0.75f)
        assertArrayEquals(floatArrayOf(0.25f, 0.75f), Outputs.dequantize(floats, DType.FLOAT32, null, 2), 0f)
    }

    @Test
    fun argmaxAndTopKPreferTheFirstOfEqualValues() {
        val v = floatArrayOf(0.1f, 0.4f, 0.4f, 0.1f)
        assertEquals(1, Outputs.argmax(v))
        assertEquals(listOf(1, 2, 0), Outputs.topK(v, 3))
    }

    @Test
    fun decodesByNameWhateverTheOrder() {
        // The map lists colour first: the result must still follow model.json's head order.
        val outputs = linkedMapOf("flower_color" to floatArrayOf(0.1f, 0.2f, 0.7f),
                                  "flower_type" to floatArrayOf(0.8f, 0.2f))
        val results = Outputs.decode(heads, outputs)
        assertEquals(listOf("flower_type", "flower_color"), results.map { it.head })
        assertEquals(ClassScore("rose", 0.8f), results[0].best)
        assertEquals(listOf("white", "pink", "red"), results[1].ranked.map { it.label })
        assertEquals("flower_type: rose 80.0%  (daisy 20.0%)\nflower_color: white 70.0%  (pink 20.0%, red 10.0%)",
                     Outputs.describe(results))
    }

    @Test
    fun aMissingOrMisshapenOutputIsAnError() {
        val e = assertThrows(IllegalArgumentException::class.java) {
            Outputs.decode(heads, mapOf("flower_type" to floatArrayOf(1f, 0f)))
        }
        assertEquals("model has no output named 'flower_color' (has [flower_type])", e.message)
        assertThrows(IllegalArgumentException::class.java) {
            Outputs.decode(heads, mapOf("flower_type" to floatArrayOf(1f), "flower_color" to floatArrayOf(1f, 0f, 0f)))
        }
    }

    @Test
    fun aHeadIsNotSureBelowItsThresholdAndSureFromItOn() {
        assertEquals(true, NotSure.answers(0.5f, 0.5f))
        assertEquals(false, NotSure.answers(0.49f, 0.5f))
        assertEquals(true, NotSure.answers(0.01f, null)) // a model exported before thresholds
        val outputs = mapOf("flower_type" to floatArrayOf(0.45f, 0.40f), "flower_color" to floatArrayOf(0.1f, 0.2f, 0.7f))
        val results = Outputs.decode(heads, outputs, mapOf("flower_type" to 0.5f, "flower_color" to 0.7f))
        assertEquals(listOf(false, true), results.map { it.answered })
        assertEquals("flower_type: not sure  (rose 45.0%, daisy 40.0%; needs 50.0%)\n" +
                     "flower_color: white 70.0%  (pink 20.0%, red 10.0%)", Outputs.describe(results))
    }
}
