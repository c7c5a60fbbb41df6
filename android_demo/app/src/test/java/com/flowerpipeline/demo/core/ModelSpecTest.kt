package com.flowerpipeline.demo.core

import org.junit.Assert.assertArrayEquals
import org.junit.Assert.assertEquals
import org.junit.Assert.assertNull
import org.junit.Assert.assertThrows
import org.junit.Test

class ModelSpecTest {
    private val text = """
        {"heads": {"flower_type": ["rose", "daisy"], "flower_color": ["red", "pink", "white"]},
         "default": "int8",
         "variants": {
           "float32": {"file": "model_float32.tflite", "signature": "serving_default",
                       "input": {"name": "image", "dtype": "float32", "shape": [1, 64, 64, 3],
                                 "normalization": {"mean": [128, 128, 128], "std": [128, 128, 128]}}},
           "int8": {"file": "model_int8.tflite", "signature": "serving_default",
                    "input": {"name": "image", "dtype": "uint8", "shape": [1, 64, 64, 3],
                              "quantization": {"scale": 0.0078125, "zero_point": 128},
                              "normalization": {"mean": [120.5, 121, 122], "std": [60, 61, 62]}}}}}
    """.trimIndent()

    @Test
    fun readsHeadsInOrderAndTheDefaultVariant() {
        val spec = ModelSpec.parse(text)
        assertEquals(listOf("flower_type", "flower_color"), spec.heads.keys.toList())
        assertEquals(listOf("red", "pink", "white"), spec.heads["flower_color"])
        val v = spec.variant()
        assertEquals("model_int8.tflite", v.file)
        assertEquals(DType.UINT8, v.input.dtype)
        assertEquals(64, v.input.size)
        assertArrayEquals(floatArrayOf(120.5f, 121f, 122f), v.input.mean, 0f)
        assertEquals(Quantization(0.0078125f, 128), v.input.quantization)
        assertNull(spec.variant("float32").input.quantization)
    }

    @Test
    fun namesWhatIsMissing() {
        val e = assertThrows(JsonException::class.java) { ModelSpec.parse(text.replace("\"file\"", "\"fil\"")) }
        assertEquals("missing key 'file'", e.message)
        val v = assertThrows(JsonException::class.java) { ModelSpec.parse(text).variant("fp16") }
        assertEquals("model.json has no variant 'fp16' (has [float32, int8])", v.message)
    }

    @Test
    fun refusesAnUnsupportedDtype() {
        assertThrows(JsonException::class.java) { ModelSpec.parse(text.replace("\"uint8\"", "\"int16\"")) }
    }

    @Test
    fun wrongTypesAreJsonErrorsNotCrashes() {
        val cases = mapOf(
            "\"file\": \"model_int8.tflite\"" to "\"file\": 7",
            "\"shape\": [1, 64, 64, 3]," to "\"shape\": [1, \"64\", 64, 3],",
            "\"zero_point\": 128" to "\"zero_point\": \"128\"",
            "\"mean\": [120.5, 121, 122]" to "\"mean\": [120.5, null, 122]",
        )
        for ((from, to) in cases) {
            val broken = text.replaceFirst(from, to)
            check(broken != text) { "the test's replacement did not apply: $from" }
            assertThrows(JsonException::class.java) { ModelSpec.parse(broken) }
        }
    }

    private val withThresholds = text.replace(
        "\"int8\": {\"file\": \"model_int8.tflite\", \"signature\": \"serving_default\",",
        "\"int8\": {\"file\": \"model_int8.tflite\", \"signature\": \"serving_default\"," +
            " \"outputs\": {\"flower_type\": {\"threshold\": 0.6}, \"flower_color\": {\"quantization\": null}},")

    @Test
    fun readsEachHeadsThresholdAndOldFilesHaveNone() {
        check(withThresholds != text) { "the test's replacement did not apply" }
        val spec = ModelSpec.parse(withThresholds)
        assertEquals(mapOf("flower_type" to 0.6f), spec.variant().thresholds)
        assertEquals(emptyMap<String, Float>(), spec.variant("float32").thresholds) // exported before thresholds
    }

    @Test
    fun aDamagedThresholdIsAJsonErrorNamingTheField() {
        for (bad in listOf("\"0.6\"", "null", "0", "-0.2", "1", "1.5", "[0.6]")) {
            val e = assertThrows(JsonException::class.java) {
                ModelSpec.parse(withThresholds.replace("\"threshold\": 0.6", "\"threshold\": $bad"))
            }
            assertEquals("threshold $bad", true,
                e.message!!.startsWith("variants.int8.outputs.flower_type.threshold: expected a number in (0, 1), got "))
        }
    }
}
