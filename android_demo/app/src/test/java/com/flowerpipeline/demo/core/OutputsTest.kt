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

    @Test
    fun multilabelAndRegressionHeadsReadTheirKindFromModelJson() {
        val spec = ModelSpec.parse("""{"heads": {"shape": ["disc", "square"], "marks": ["red", "blue", "yellow"], "shade": []},
            "tasks": [{"name": "shape", "short": "shape"}, {"name": "marks", "short": "marks", "kind": "multilabel"},
                      {"name": "shade", "short": "shade", "kind": "regression", "unit": "level"}],
            "default": "int8", "variants": {"int8": {"file": "m.tflite", "input": {"name": "image", "dtype": "uint8",
              "shape": [1, 32, 32, 3], "normalization": {"mean": [0, 0, 0], "std": [1, 1, 1]}},
              "outputs": {"marks": {"threshold": 0.5}}}}}""")
        assertEquals(HeadInfo(HeadKind.MULTILABEL), spec.kinds["marks"])
        assertEquals(HeadInfo(HeadKind.REGRESSION, "level"), spec.kinds["shade"])
        assertEquals(HeadInfo(), spec.kinds["shape"])
        val outputs = mapOf("shape" to floatArrayOf(0.9f, 0.05f), "marks" to floatArrayOf(0.992f, 0.066f, 0.955f),
                            "shade" to floatArrayOf(123.456f))
        val results = Outputs.decode(spec.heads, outputs, spec.variant().thresholds, spec.kinds)
        assertEquals(listOf("red", "yellow"), results[1].present.map { it.label })
        assertEquals(123.456f, results[2].value)
        assertEquals("shape: disc 90.0%  (square 5.0%)\n" +
                     "marks: red+yellow  (red 99.2%, blue 6.6%, yellow 95.5%)\n" +
                     "shade: 123.5 level", Outputs.describe(results))
        val none = Outputs.decode(spec.heads, outputs + ("marks" to floatArrayOf(0.1f, 0.2f, 0.3f)), emptyMap(), spec.kinds)
        assertEquals("marks: none of them  (red 10.0%, blue 20.0%, yellow 30.0%)", Outputs.describe(none).lines()[1])
        assertThrows(IllegalArgumentException::class.java) {  // a regression output holds one number
            Outputs.decode(spec.heads, outputs + ("shade" to floatArrayOf(1f, 2f)), emptyMap(), spec.kinds)
        }
        assertThrows(JsonException::class.java) { HeadKind.of("ordinal") }
    }

    @Test
    fun numbersAreWrittenAsPythonsFourSignificantDigits() {
        // the same strings as f"{v:.4g}" in Python (pipeline predict's regression answers)
        val cases = listOf(123.456f to "123.5", 0f to "0", 1f to "1", -2.5f to "-2.5", 12345.6f to "1.235e+04",
                           0.000012345f to "1.234e-05", 0.5f to "0.5", 1.0625f to "1.062", 9999.7f to "1e+04")
        for ((v, text) in cases) assertEquals("$v", text, Outputs.significant(v))
    }
}
