package com.flowerpipeline.demo.core

/**
 * model.json, the contract written by `pipeline quantize`: beside the .tflite files, and packed
 * inside each one (listing that variant only, as the default; see ModelFile).
 *
 * The app reads the input size, dtype, normalization, output names and class labels from it
 * instead of hard-coding them, so a re-export with another size or other heads needs no code.
 */
data class Quantization(val scale: Float, val zeroPoint: Int)

enum class DType(val bytes: Int) {
    FLOAT32(4), UINT8(1), INT8(1);

    companion object {
        fun of(name: String): DType = when (name.lowercase()) {
            "float32" -> FLOAT32
            "uint8" -> UINT8
            "int8" -> INT8
            else -> throw JsonException("unsupported input dtype '$name'")
        }
    }
}

data class InputSpec(
    val name: String,
    val dtype: DType,
    val shape: List<Int>,
    val mean: FloatArray,
    val std: FloatArray,
    /** Present when model.json records it; on the phone the interpreter's own value is used. */
    val quantization: Quantization?,
) {
    /** Square NHWC input, batch 1: the side in pixels. */
    val size: Int get() = shape[1]
}

data class VariantSpec(
    val key: String,
    val file: String,
    val signature: String,
    val input: InputSpec,
    /** Output name -> its quantization (null for float outputs); empty when not recorded. */
    val outputs: Map<String, Quantization?> = emptyMap(),
    /** Head name -> its "not sure" threshold; a head without one always answers ([NotSure]). */
    val thresholds: Map<String, Float> = emptyMap(),
)

data class ModelSpec(
    /** Head name -> class labels, in the order of that output's values (none for a regression head). */
    val heads: LinkedHashMap<String, List<String>>,
    val defaultVariant: String,
    val variants: Map<String, VariantSpec>,
    /** Head name -> its kind and unit, from `tasks`; a head absent here is a classification head. */
    val kinds: Map<String, HeadInfo> = emptyMap(),
) {
    fun variant(key: String = defaultVariant): VariantSpec =
        variants[key] ?: throw JsonException("model.json has no variant '$key' (has ${variants.keys})")

    companion object {
        fun parse(text: String): ModelSpec {
            val root = Json.parse(text).asObject("model.json")
            val heads = LinkedHashMap<String, List<String>>()
            for ((name, labels) in root.field("heads").asObject("heads")) {
                heads[name] = labels.asList("heads.$name").map { it as? String ?: throw JsonException("heads.$name: labels must be strings") }
            }
            val variants = root.field("variants").asObject("variants")
                .mapValues { (key, v) -> variant(key, v.asObject("variants.$key")) }
            val default = root["default"] as? String ?: variants.keys.firstOrNull()
                ?: throw JsonException("model.json lists no variants")
            return ModelSpec(heads, default, variants, kinds(root["tasks"]))
        }

        /** model.json `tasks`: [{"name", "kind"?, "unit"?, ...}]; absent in older files. */
        private fun kinds(tasks: Any?): Map<String, HeadInfo> =
            (tasks?.asList("tasks") ?: emptyList()).withIndex().associate { (i, task) ->
                val t = task.asObject("tasks[$i]")
                val kind = t["kind"]?.asString("tasks[$i].kind") ?: HeadKind.CLASSIFICATION.key
                t.field("name").asString("tasks[$i].name") to
                    HeadInfo(HeadKind.of(kind), t["unit"]?.asString("tasks[$i].unit") ?: "")
            }

        private fun variant(key: String, v: Map<String, Any?>): VariantSpec {
            val input = v.field("input").asObject("variants.$key.input")
            val norm = input.field("normalization").asObject("normalization")
            return VariantSpec(
                key = key,
                file = v.field("file").asString("variants.$key.file"),
                signature = v["signature"] as? String ?: "serving_default",
                input = InputSpec(
                    name = input.field("name").asString("input.name"),
                    dtype = DType.of(input.field("dtype").asString("input.dtype")),
                    shape = input.field("shape").asList("shape").map { it.asNumber("input.shape").toInt() },
                    mean = floats(norm.field("mean")),
                    std = floats(norm.field("std")),
                    quantization = quantization(input["quantization"]),
                ),
                outputs = outputs(key, v).mapValues { (name, o) -> quantization(o["quantization"]) },
                thresholds = outputs(key, v).mapNotNull { (name, o) ->
                    threshold(o, "variants.$key.outputs.$name.threshold")?.let { name to it }
                }.toMap(),
            )
        }

        private fun outputs(key: String, v: Map<String, Any?>): Map<String, Map<String, Any?>> =
            (v["outputs"]?.asObject("variants.$key.outputs") ?: emptyMap())
                .mapValues { (name, o) -> o.asObject("variants.$key.outputs.$name") }

        /** Absent in files exported before thresholds existed (null: always answer). */
        private fun threshold(output: Map<String, Any?>, what: String): Float? {
            if (!output.containsKey("threshold")) return null
            val value = output["threshold"]
            val t = value as? Double
            if (t == null || t.isNaN() || t <= 0.0 || t >= 1.0) {
                val shown = if (value is String) "\"$value\"" else value.toString()
                throw JsonException("$what: expected a number in (0, 1), got $shown")
            }
            return t.toFloat()
        }

        /** Accepts {"scale": s, "zero_point": z} or [s, z] (the LiteRT Python tuple). */
        private fun quantization(value: Any?): Quantization? = when (value) {
            null -> null
            is Map<*, *> -> Quantization(value["scale"].asNumber("quantization.scale").toFloat(),
                value["zero_point"].asNumber("quantization.zero_point").toInt())
            is List<*> -> Quantization(value.getOrNull(0).asNumber("quantization[0]").toFloat(),
                value.getOrNull(1).asNumber("quantization[1]").toInt())
            else -> throw JsonException("input.quantization: expected an object or a list")
        }

        private fun floats(value: Any?): FloatArray {
            val list = value.asList("normalization")
            if (list.size != 3) throw JsonException("normalization needs 3 values, got ${list.size}")
            return FloatArray(3) { list[it].asNumber("normalization").toFloat() }
        }
    }
}

@Suppress("UNCHECKED_CAST")
internal fun Any?.asObject(what: String): Map<String, Any?> =
    this as? Map<String, Any?> ?: throw JsonException("$what: expected an object")

internal fun Any?.asList(what: String): List<Any?> =
    this as? List<Any?> ?: throw JsonException("$what: expected a list")

internal fun Map<String, Any?>.field(key: String): Any? =
    if (containsKey(key)) get(key) else throw JsonException("missing key '$key'")

/** Typed reads of parsed JSON: a value of the wrong type is a JsonException naming it, never a
 *  ClassCastException (which the app would not catch: a damaged model file would crash it). */
internal fun Any?.asString(what: String): String =
    this as? String ?: throw JsonException("$what: expected a string")

internal fun Any?.asNumber(what: String): Double =
    this as? Double ?: throw JsonException("$what: expected a number")
